//! The `<part-list>`: part names and the `%%score` line.
//!
//! MusicXML describes part groups with start/stop events; the reference repairs unbalanced
//! events (a repeated start closes the open group of that number first, a stop without a
//! start is dropped, groups still open at the end are closed) and then reads the events as a
//! tree. Two stops in a row in the wrong order have their group data exchanged. The tree is
//! then walked together with the staves each part produced, giving the `%%score` tokens and
//! the `nm=`/`snm=` names of each part's first voice.

use std::collections::{HashMap, VecDeque};

use crate::xml::{self, Node};
use crate::XmlError;

/// The reference reads the part list recursively, one Python frame per entry; beyond about
/// this many entries Python's recursion limit ends the conversion.
const MAX_ENTRIES: usize = 990;

/// One entry of the part list after repair.
#[derive(Clone, Debug)]
enum Event {
    /// A `part-group` event.
    Group {
        number: Option<String>,
        kind: Option<String>,
        /// symbol, barline, name, abbreviation (`None` for repair-inserted stops).
        data: Option<[String; 4]>,
    },
    /// Any other element (normally `score-part`): its name, abbreviation and `type`
    /// attribute (which the stop-order check looks at, whatever the element).
    Part {
        name: String,
        abbr: String,
        kind: Option<String>,
    },
}

/// A node of the part-list tree.
#[derive(Clone, Debug)]
pub enum Entry {
    /// A part: (part-name, part-abbreviation).
    Part(String, String),
    /// A group: its members and its data [symbol, barline, name, abbreviation].
    Group(Vec<Entry>, [String; 4]),
}

/// Read the part-list element into the reference's tree.
pub fn parse(part_list: Node<'_>) -> Result<Vec<Entry>, XmlError> {
    let events = repair(part_list);
    if events.len() > MAX_ENTRIES {
        return Err(XmlError::invalid(
            "part-list too long for the reference's recursive reader",
        ));
    }
    let mut data: Vec<[String; 4]> = Vec::new();
    let mut by_number: HashMap<Option<String>, usize> = HashMap::new();
    let mut open: Vec<Option<String>> = Vec::new();
    let mut queue: VecDeque<Event> = events.into();
    let (entries, _) = level(&mut queue, &mut data, &mut by_number, &mut open)?;
    // A level's closing group data is the last element of its list; the top level has none.
    let mut out = Vec::new();
    for node in entries {
        match node {
            Raw::Entry(e) => out.push(e),
            Raw::Data(_) => {
                return Err(XmlError::invalid("part-list: stray part-group stop"));
            }
        }
    }
    Ok(out)
}

/// What one level of the recursive reading yields: entries, then possibly the level's data.
enum Raw {
    Entry(Entry),
    Data(usize),
}

/// One level of the reader: entries up to (and including) the data of the closing stop.
fn level(
    queue: &mut VecDeque<Event>,
    data: &mut Vec<[String; 4]>,
    by_number: &mut HashMap<Option<String>, usize>,
    open: &mut Vec<Option<String>>,
) -> Result<(Vec<Raw>, ()), XmlError> {
    let mut out = Vec::new();
    while let Some(ev) = queue.pop_front() {
        match ev {
            Event::Part { name, abbr, .. } => out.push(Raw::Entry(Entry::Part(name, abbr))),
            Event::Group {
                number,
                kind,
                data: d,
            } => {
                if kind.as_deref() == Some("start") {
                    data.push(d.unwrap_or_default());
                    by_number.insert(number.clone(), data.len() - 1);
                    open.push(number);
                    let (inner, ()) = level(queue, data, by_number, open)?;
                    let mut members = Vec::new();
                    let mut group_data = None;
                    for r in inner {
                        match r {
                            Raw::Entry(e) => members.push(e),
                            Raw::Data(i) => group_data = Some(i),
                        }
                    }
                    let gd = group_data
                        .and_then(|i| data.get(i).cloned())
                        .ok_or_else(|| XmlError::invalid("part-list: group without stop"))?;
                    out.push(Raw::Entry(Entry::Group(members, gd)));
                } else {
                    let top = open
                        .pop()
                        .ok_or_else(|| XmlError::invalid("part-list: unbalanced groups"))?;
                    let next_is_stop = match queue.front() {
                        Some(Event::Group { kind, .. }) | Some(Event::Part { kind, .. }) => {
                            kind.as_deref() == Some("stop")
                        }
                        None => false,
                    };
                    if next_is_stop && number != top {
                        // The reference swaps the two groups' data (right for two stops).
                        let a = by_number.get(&top).copied();
                        let b = by_number.get(&number).copied();
                        match (a, b) {
                            (Some(a), Some(b)) => {
                                by_number.insert(top.clone(), b);
                                by_number.insert(number.clone(), a);
                            }
                            _ => return Err(XmlError::invalid("part-list: unknown group")),
                        }
                    }
                    let sym = by_number
                        .get(&number)
                        .copied()
                        .ok_or_else(|| XmlError::invalid("part-list: unknown group"))?;
                    out.push(Raw::Data(sym));
                    return Ok((out, ()));
                }
            }
        }
    }
    Ok((out, ()))
}

/// The reference's repair of the event list.
fn repair(part_list: Node<'_>) -> Vec<Event> {
    let mut out = Vec::new();
    let mut open: Vec<Option<String>> = Vec::new();
    let stop = |number: Option<String>| Event::Group {
        number,
        kind: Some("stop".to_string()),
        data: None,
    };
    for x in xml::elements(part_list) {
        if xml::tag(x) == "part-group" {
            let number = xml::get(x, "number").map(str::to_string);
            let kind = xml::get(x, "type").map(str::to_string);
            let field = |name: &str| {
                xml::findtext(x, name)
                    .map(|t| t.into_owned())
                    .unwrap_or_default()
            };
            let ev = Event::Group {
                number: number.clone(),
                kind: kind.clone(),
                data: Some([
                    field("group-symbol"),
                    field("group-barline"),
                    field("group-name"),
                    field("group-abbreviation"),
                ]),
            };
            if kind.as_deref() == Some("start") {
                if open.contains(&number) {
                    out.push(stop(number));
                    out.push(ev);
                } else {
                    out.push(ev);
                    open.push(number);
                }
            } else if let Some(pos) = open.iter().position(|n| *n == number) {
                open.remove(pos);
                out.push(ev);
            }
        } else {
            let field = |name: &str| {
                xml::findtext(x, name)
                    .map(|t| t.into_owned())
                    .unwrap_or_default()
            };
            out.push(Event::Part {
                name: field("part-name"),
                abbr: field("part-abbreviation"),
                kind: xml::get(x, "type").map(str::to_string),
            });
        }
    }
    for number in open.into_iter().rev() {
        out.push(stop(number));
    }
    out
}

/// What the walk over the tree accumulates.
#[derive(Default)]
pub struct ScoreWalk {
    /// (name, abbreviation) per part, in part-list order.
    pub names: Vec<(String, String)>,
    /// `%%score` tokens.
    pub staves: Vec<String>,
}

/// Walk the tree with the staves of each part (`[[abc voices] per staff] per part`), as the
/// reference's header writer does. An error inside one top-level entry abandons that entry
/// only; what it had already added stays (the reference catches the exception there).
pub fn walk(entries: &[Entry], parts: &[Vec<Vec<i64>>]) -> ScoreWalk {
    let mut w = ScoreWalk::default();
    let mut pmap: VecDeque<&Vec<Vec<i64>>> = parts.iter().collect();
    for x in entries {
        // Errors are swallowed here, as the reference logs "lousy musicxml" and continues.
        let _ = element(x, ("", ""), false, &mut pmap, &mut w);
    }
    w
}

fn element(
    x: &Entry,
    gnm: (&str, &str),
    bar: bool,
    pmap: &mut VecDeque<&Vec<Vec<i64>>>,
    w: &mut ScoreWalk,
) -> Result<(), ()> {
    match x {
        Entry::Part(name, abbr) => {
            let staves = pmap.pop_front().ok_or(())?;
            let names = if gnm.0.is_empty() {
                (name.clone(), abbr.clone())
            } else {
                (format!("{}:{name}", gnm.0), format!("{}:{abbr}", gnm.1))
            };
            w.names.push(names);
            w.staves.extend(brace_part(staves));
        }
        Entry::Group(members, data) if members.len() == 1 => match &members[0] {
            Entry::Part(name, abbr) => {
                let staves = pmap.pop_front().ok_or(())?;
                w.names
                    .push((format!("{name}:{}", data[2]), format!("{abbr}:{}", data[3])));
                w.staves.extend(brace_part(staves));
            }
            Entry::Group(..) => group(members, data, bar, pmap, w)?,
        },
        Entry::Group(members, data) => group(members, data, bar, pmap, w)?,
    }
    Ok(())
}

fn group(
    members: &[Entry],
    data: &[String; 4],
    parent_bar: bool,
    pmap: &mut VecDeque<&Vec<Vec<i64>>>,
    w: &mut ScoreWalk,
) -> Result<(), ()> {
    let brace = data[0] == "brace";
    let bar = data[1] == "yes" || parent_bar;
    w.staves.push(if brace { "{" } else { "[" }.to_string());
    for z in members {
        element(z, (&data[2], &data[3]), bar, pmap, w)?;
        if bar {
            w.staves.push("|".to_string());
        }
    }
    if bar {
        w.staves.pop();
    }
    w.staves.push(if brace { "}" } else { "]" }.to_string());
    Ok(())
}

/// The tokens of one part: its staves joined by `|`, a staff with several voices in
/// parentheses, a multi-staff part in braces.
fn brace_part(part: &[Vec<i64>]) -> Vec<String> {
    if part.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for ivs in part {
        if ivs.len() == 1 {
            out.push(ivs[0].to_string());
        } else {
            out.push("(".to_string());
            out.extend(ivs.iter().map(i64::to_string));
            out.push(")".to_string());
        }
        out.push("|".to_string());
    }
    out.pop();
    if part.len() > 1 {
        out.insert(0, "{".to_string());
        out.push("}".to_string());
    }
    out
}
