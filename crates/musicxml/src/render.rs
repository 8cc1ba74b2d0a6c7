//! From the records of one bar of one voice to its ABC text.
//!
//! * [`sort_bar`] puts the records in time order, fills gaps with invisible rests, resolves
//!   overlaps (a rest is shortened or dropped, a note overlapping a note joins it as a chord)
//!   and spreads a beam over the rests inside it.
//! * [`broken_rhythms`] turns dotted pairs inside a beam into `>` / `<`.
//! * [`bar_text`] writes tuplet prefixes, decorations, pitches, durations and ties.

use crate::model::{Arena, Item, Note};
use crate::py;
use crate::XmlError;

/// The reference drops gaps and backups of less than a 1/64 note (a MuseScore bug): whether
/// a time step `dt` counts, given the divisions per quarter (`dt > divs / 16`).
pub fn counts(dt: i64, divs: i64) -> bool {
    i128::from(dt) * 16 > i128::from(divs)
}

/// Whether a pitch string is a rest as the reference tests it (`ns[0] in 'zx'`, a substring
/// test: `""`, `z`, `x` and `zx` all pass).
fn restlike(s: &str) -> bool {
    "zx".contains(s)
}

/// Order one bar of one voice and make it sequential (see the module notes).
pub fn sort_bar(arena: &mut Arena, mut voice: Vec<Item>, divs: i64) -> Result<Vec<Item>, XmlError> {
    voice.sort_by_key(|&it| arena.tijd(it)); // stable, as Python's sort
    let mut time = 0i64;
    let mut v: Vec<Item> = Vec::with_capacity(voice.len() + 4);
    let mut rests: Vec<usize> = Vec::new();
    for it in voice {
        let t = arena.tijd(it);
        if t > time && counts(py::sub(t, time)?, divs) {
            let id = arena.add_note(Note::filler(t - time));
            v.push(Item::Note(id));
            rests.push(v.len() - 1);
        }
        let n = match it {
            Item::Elem(e) => {
                if let Some(el) = arena.elems.get_mut(e) {
                    if el.tijd < time {
                        el.tijd = time;
                    }
                    time = el.tijd;
                }
                v.push(it);
                continue;
            }
            Item::Note(n) => n,
        };
        if t < time {
            if arena.note(n)?.first() == "z" {
                continue; // an overlapping rest is dropped
            }
            let last = *v
                .last()
                .ok_or_else(|| XmlError::invalid("overlap at the start of a bar"))?;
            if arena.tijd(last) <= t {
                let Item::Note(prev) = last else {
                    return Err(XmlError::invalid("overlap after a non-note element"));
                };
                if arena.note(prev)?.first() == "z" {
                    let p = arena.note_mut(prev)?;
                    p.dur = t - p.tijd;
                    if p.dur == 0 {
                        v.pop();
                    }
                } else {
                    let extra = arena.note(n)?.ns.clone();
                    arena.note_mut(prev)?.ns.extend(extra);
                    let cur = arena.note_mut(n)?;
                    cur.dur = py::sub(py::add(t, cur.dur)?, time)?;
                    if cur.dur <= 0 {
                        continue;
                    }
                    cur.tijd = time;
                }
            } else {
                continue; // overlapping notes in one voice: discarded
            }
        }
        v.push(it);
        let (first_rest, beam, grace, tijd, dur) = {
            let note = arena.note(n)?;
            (
                restlike(note.first()),
                note.beam,
                note.grace,
                note.tijd,
                note.dur,
            )
        };
        if first_rest {
            rests.push(v.len() - 1);
        } else if !rests.is_empty() {
            if beam != 0 && !grace {
                for &j in &rests {
                    match v.get(j) {
                        Some(Item::Note(r)) => arena.note_mut(*r)?.beam = beam,
                        Some(Item::Elem(_)) => {} // Python sets a stray attribute: no effect
                        None => return Err(XmlError::invalid("rest index out of range")),
                    }
                }
            }
            rests.clear();
        }
        time = py::add(tijd, dur)?;
    }
    Ok(v)
}

/// Mark dotted pairs inside a beam as broken rhythm (`>` or `<`), adjusting the durations;
/// pairs are not chained.
pub fn broken_rhythms(arena: &mut Arena, bar: &[Item]) -> Result<(), XmlError> {
    let notes: Vec<usize> = bar
        .iter()
        .filter_map(|it| match it {
            Item::Note(n) => Some(*n),
            Item::Elem(_) => None,
        })
        .collect();
    let mut i = 0;
    while i + 1 < notes.len() {
        let (a, b) = (notes[i], notes[i + 1]);
        let (fa, da) = {
            let n = arena.note(a)?;
            (n.fact.is_some(), n.dur)
        };
        let (fb, db, beam_b) = {
            let n = arena.note(b)?;
            (n.fact.is_some(), n.dur, n.beam)
        };
        if !fa && !fb && da > 0 && beam_b != 0 {
            if py::mul(da, 3)? == db {
                arena.note_mut(b)?.dur = py::floor_div(py::mul(2, db)?, 3)?;
                let na = arena.note_mut(a)?;
                na.dur = py::mul(da, 2)?;
                na.after.insert(0, '<');
                i += 1;
            } else if py::mul(db, 3)? == da {
                arena.note_mut(a)?.dur = py::floor_div(py::mul(2, da)?, 3)?;
                arena.note_mut(b)?.dur = py::mul(db, 2)?;
                arena.note_mut(a)?.after.insert(0, '>');
                i += 1;
            }
        }
        i += 1;
    }
    Ok(())
}

/// Python's recursion limit, which ends the reference on absurdly nested tuplets.
const MAX_TUPLET_DEPTH: usize = 900;

/// Read one (possibly nested) tuplet starting at `ix`, writing its ABC prefix on its first
/// note. Returns the index the reference continues from and the number of tuplet notes.
fn tuplet(
    arena: &mut Arena,
    bar: &[Item],
    start: usize,
    outer: (i64, i64),
    depth: usize,
) -> Result<(usize, i64), XmlError> {
    if depth > MAX_TUPLET_DEPTH {
        return Err(XmlError::invalid("tuplets nested too deeply"));
    }
    let Some(&Item::Note(first)) = bar.get(start) else {
        return Err(XmlError::invalid("tuplet does not start on a note"));
    };
    let fact = {
        let n = arena.note_mut(first)?;
        if let Some(pos) = n.tup.iter().position(|t| t.as_deref() == Some("start")) {
            n.tup.remove(pos);
        }
        n.fact
    };
    let (fnum, fden) =
        fact.ok_or_else(|| XmlError::invalid("tuplet start without time modification"))?;
    let tupfact = (py::floor_div(fnum, outer.0)?, py::floor_div(fden, outer.1)?);
    let mut ix = start;
    let mut count = 0i64;
    let mut lastix: Option<usize> = None;
    while ix < bar.len() {
        let n = match bar[ix] {
            Item::Elem(_) => {
                ix += 1;
                continue;
            }
            Item::Note(n) => n,
        };
        if arena.note(n)?.grace {
            ix += 1;
            continue;
        }
        let starts = arena
            .note(n)?
            .tup
            .iter()
            .any(|t| t.as_deref() == Some("start"));
        if starts {
            let (nix, inner) = tuplet(arena, bar, ix, tupfact, depth + 1)?;
            ix = nix;
            count = py::add(count, inner)?;
        } else if arena.note(n)?.fact.is_some() {
            count += 1;
        }
        // `n` stays the note the iteration started on, as in the reference.
        let note = arena.note_mut(n)?;
        if let Some(pos) = note.tup.iter().position(|t| t.as_deref() == Some("stop")) {
            note.tup.remove(pos);
            break;
        }
        if note.fact.is_none() {
            ix = lastix.ok_or_else(|| XmlError::invalid("tuplet without tuplet notes"))?;
            break;
        }
        lastix = Some(ix);
        ix += 1;
    }
    let prefix = if (tupfact.0, tupfact.1, count) == (3, 2, 3) {
        "(3".to_string()
    } else {
        format!("({}:{}:{}", tupfact.0, tupfact.1, count)
    };
    arena.note_mut(first)?.tupabc.insert_str(0, &prefix);
    Ok((ix, count))
}

/// The ABC length of a note of `dur` divisions (`divs` per quarter) with unit length 1/`ul`.
pub fn duration(note: &Note, divs: i64, ul: i64) -> Result<String, XmlError> {
    if note.dur == 0 {
        return Ok(String::new());
    }
    let (mut num, mut den) = py::simplify(py::mul(ul, note.dur)?, py::mul(divs, 4)?)?;
    if let Some((nf, df)) = note.fact {
        (num, den) = py::simplify(py::mul(num, nf)?, py::mul(den, df)?)?;
    }
    if den > 64 {
        // Round to a multiple of 1/64, snapping to the integer just below when within 10%.
        let x = num as f64 / den as f64;
        let n = x.floor();
        if x - n < 0.1 * x {
            num = float_to_int(n)?;
            den = 1;
        }
        let num64 = 64.0 * num as f64 / den as f64 + 1.0e-15;
        (num, den) = py::simplify(float_to_int(num64.round_ties_even())?, 64)?;
    }
    Ok(if num == 1 {
        match den {
            1 => String::new(),
            2 => "/".to_string(),
            _ => format!("/{den}"),
        }
    } else if den == 1 {
        num.to_string()
    } else {
        format!("{num}/{den}")
    })
}

fn float_to_int(x: f64) -> Result<i64, XmlError> {
    if !x.is_finite() || x.abs() > 9.0e18 {
        return Err(XmlError::unsupported("duration beyond 64 bits"));
    }
    Ok(x as i64)
}

/// The ABC text of one bar of one voice.
pub fn bar_text(arena: &mut Arena, bar: &[Item], divs: i64, ul: i64) -> Result<String, XmlError> {
    let mut ix = 0;
    while ix < bar.len() {
        if let Item::Note(n) = bar[ix] {
            let note = arena.note(n)?;
            if note.fact.is_some() && !note.grace {
                ix = tuplet(arena, bar, ix, (1, 1), 0)?.0;
            }
        }
        ix += 1;
    }
    let mut out = String::new();
    for &it in bar {
        match it {
            Item::Note(n) => {
                let durstr = duration(arena.note(n)?, divs, ul)?;
                let note = arena.note_mut(n)?;
                let chord = note.ns.len() > 1;
                let mut tie = "";
                if chord && note.ns.iter().all(|p| p.ends_with('-')) {
                    for p in &mut note.ns {
                        p.pop();
                    }
                    tie = "-";
                }
                let mut s = note.tupabc.clone();
                for b in &note.before {
                    s.push_str(b);
                }
                if chord {
                    s.push('[');
                }
                for p in &note.ns {
                    s.push_str(p);
                }
                if chord {
                    s.push(']');
                    s.push_str(tie);
                }
                if s.ends_with('-') {
                    s.pop();
                    tie = "-";
                }
                s.push_str(&durstr);
                s.push_str(tie);
                s.push_str(&note.after);
                if note.beam == 0 {
                    out.push(' ');
                }
                out.push_str(&s);
            }
            Item::Elem(e) => out.push_str(&arena.elem_text(e)?),
        }
    }
    // The reference's clean-ups of doubled pedal marks and empty ottavas.
    for (pat, rep) in [
        ("!ped!!ped!", "!ped!"),
        ("!ped-up!!ped-up!", "!ped-up!"),
        ("!8va(!!8va)!", ""),
    ] {
        while out.contains(pat) {
            out = out.replace(pat, rep);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(dur: i64, fact: Option<(i64, i64)>) -> Note {
        Note {
            dur,
            fact,
            ns: vec!["C".into()],
            ..Note::default()
        }
    }

    #[test]
    fn durations_in_eighths() {
        // divisions 2 per quarter, L:1/8: a quarter is "2", an eighth "", a sixteenth "/".
        assert_eq!(duration(&note(2, None), 2, 8).ok().as_deref(), Some("2"));
        assert_eq!(duration(&note(1, None), 2, 8).ok().as_deref(), Some(""));
        assert_eq!(duration(&note(1, None), 4, 8).ok().as_deref(), Some("/"));
        assert_eq!(duration(&note(3, None), 4, 8).ok().as_deref(), Some("3/2"));
        assert_eq!(duration(&note(1, None), 16, 8).ok().as_deref(), Some("/8"));
        // triplet eighths: 2/3 of an eighth written as a plain eighth inside (3
        assert_eq!(
            duration(&note(2, Some((3, 2))), 6, 8).ok().as_deref(),
            Some("")
        );
        assert_eq!(duration(&note(0, None), 6, 8).ok().as_deref(), Some(""));
    }

    #[test]
    fn fine_durations_are_rounded_to_64ths() {
        // Expected values printed by the reference's own duration function.
        assert_eq!(duration(&note(1, None), 96, 8).ok().as_deref(), Some("/48"));
        assert_eq!(duration(&note(1, None), 480, 8).ok().as_deref(), Some("0"));
        assert_eq!(
            duration(&note(127, None), 480, 8).ok().as_deref(),
            Some("17/32")
        );
        assert_eq!(
            duration(&note(7, None), 1024, 8).ok().as_deref(),
            Some("/64")
        );
        assert_eq!(
            duration(&note(1000, None), 1001, 8).ok().as_deref(),
            Some("2")
        );
    }
}
