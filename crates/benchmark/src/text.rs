//! The text side of an item: facts read from the tune's header fields and measured on its
//! music, and the four WikiMT-X text types written from them with fixed English templates.
//!
//! Nothing is made up: every statement comes from a header field (`T:`, `C:`, `O:`, `R:`,
//! `K:`, `M:`, `L:`, `Q:`, `N:`, `S:`), from the collection the tune belongs to, or from the
//! converted music (bars, notes, pitch range, duration). Two fixed glossaries turn the
//! corpus's German (and pinyin) region and genre words into English ([`REGION_WORDS`],
//! [`GENRE_WORDS`]); the original strings are quoted alongside, so titles, regions, genres
//! and notes keep their own languages (German, pinyin Chinese, Irish Gaelic, Dutch...). The
//! `scene` text maps the genre to a fixed setting sentence per [`Mood`] and the key's mode
//! and the metre to fixed mood words ([`Mode::mood`], [`feel`]); tunes whose genre is not
//! in the glossary get a sentence from the mode and metre only.

use super::corpus::Fields;

/// What a genre word says about the setting, for the `scene` text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mood {
    Dance,
    March,
    Air,
    Love,
    Lullaby,
    Children,
    Ballad,
    Sacred,
    Soldier,
    Drinking,
    Sociable,
    Hunting,
    Farewell,
    Lament,
    Wedding,
    Festive,
    Humor,
    Travel,
    Homeland,
    Season,
    Work,
    Mountain,
    Revolutionary,
    Ditty,
}

impl Mood {
    /// The fixed setting sentence of each mood (without the final full stop).
    fn setting(self) -> &'static str {
        match self {
            Mood::Dance => "Dancers spin across a wooden floor while the music keeps the beat",
            Mood::March => "A band marches down the street in step with the tune",
            Mood::Air => "A slow, expressive melody drifts through a quiet room",
            Mood::Love => "A singer pours out their heart to a beloved on a quiet evening",
            Mood::Lullaby => "A soft voice sings a child to sleep by a cradle",
            Mood::Children => "Children join hands in a ring and sing as they play",
            Mood::Ballad => {
                "A singer tells a long story verse by verse to listeners gathered close"
            }
            Mood::Sacred => "Voices rise together in devotion inside a village church",
            Mood::Soldier => "Soldiers on the march sing together, steady and proud",
            Mood::Drinking => "Friends raise their glasses and sing around a crowded tavern table",
            Mood::Sociable => "A merry company sings together late into the night",
            Mood::Hunting => "Hunters set out into the forest at dawn",
            Mood::Farewell => "Someone sings goodbye before setting out on a long road",
            Mood::Lament => "A lone voice mourns, slow and sorrowful",
            Mood::Wedding => "A village gathers to celebrate a wedding with song",
            Mood::Festive => "A community keeps an old custom alive with song on a feast day",
            Mood::Humor => "Listeners laugh along with a playful, teasing song",
            Mood::Travel => "A traveller walks a country road, singing along the way",
            Mood::Homeland => "Someone sings with longing and pride of the homeland",
            Mood::Season => "A song greets the turning season as fields and woods change",
            Mood::Work => "Workers keep time together with the song as they labour",
            Mood::Mountain => "A voice rings out across the hills and valleys",
            Mood::Revolutionary => "A crowd sings together with fervour for a new era",
            Mood::Ditty => "A singer offers a short, tuneful ditty to a small gathering",
        }
    }
}

/// How a glossary key is matched against a genre word (lower case, hyphens removed).
#[derive(Clone, Copy)]
enum Match {
    /// The whole word (or two or three adjacent words written together).
    Word,
    /// Anywhere in a word (German compounds: `Wiegenlied`, `Kinder-Lied`).
    Part,
}

/// One glossary entry: `(key, English, match, mood)`.
type GenreWord = (&'static str, &'static str, Match, Option<Mood>);

/// Genre glossary: `(key, English, match, mood)`. Keys are lower case without spaces or
/// hyphens. German keys come from the Essen `R:` fields, pinyin keys from the Chinese Essen
/// collections (han1, han2), English keys from O'Neill's, Ryan's and Aird's `R:` fields.
const GENRE_WORDS: &[GenreWord] = &[
    // English dance and tune types
    ("slipjig", "slip jig", Match::Word, Some(Mood::Dance)),
    ("doublejig", "double jig", Match::Word, Some(Mood::Dance)),
    (
        "highlandfling",
        "highland fling",
        Match::Word,
        Some(Mood::Dance),
    ),
    ("fling", "fling", Match::Word, Some(Mood::Dance)),
    ("reel", "reel", Match::Word, Some(Mood::Dance)),
    ("jig", "jig", Match::Word, Some(Mood::Dance)),
    ("hornpipe", "hornpipe", Match::Word, Some(Mood::Dance)),
    ("strathspey", "strathspey", Match::Word, Some(Mood::Dance)),
    ("clog", "clog", Match::Word, Some(Mood::Dance)),
    ("waltz", "waltz", Match::Word, Some(Mood::Dance)),
    ("polka", "polka", Match::Word, Some(Mood::Dance)),
    ("slide", "slide", Match::Word, Some(Mood::Dance)),
    ("gavotte", "gavotte", Match::Word, Some(Mood::Dance)),
    ("minuet", "minuet", Match::Word, Some(Mood::Dance)),
    ("walkaround", "walkaround", Match::Word, Some(Mood::Dance)),
    ("schottische", "schottische", Match::Word, Some(Mood::Dance)),
    ("march", "march", Match::Word, Some(Mood::March)),
    ("quickstep", "quickstep", Match::Word, Some(Mood::March)),
    ("air", "air", Match::Word, Some(Mood::Air)),
    // German (Essen)
    ("wiegen", "lullaby", Match::Part, Some(Mood::Lullaby)),
    (
        "kinder",
        "children's song",
        Match::Part,
        Some(Mood::Children),
    ),
    ("liebe", "love song", Match::Part, Some(Mood::Love)),
    ("ballade", "ballad", Match::Part, Some(Mood::Ballad)),
    ("romanze", "romance", Match::Part, Some(Mood::Ballad)),
    ("erzaehl", "narrative song", Match::Part, Some(Mood::Ballad)),
    (
        "maerchen",
        "fairy-tale song",
        Match::Part,
        Some(Mood::Ballad),
    ),
    ("sage", "legend song", Match::Part, Some(Mood::Ballad)),
    (
        "historisch",
        "historical song",
        Match::Part,
        Some(Mood::Ballad),
    ),
    ("moral", "moral song", Match::Part, Some(Mood::Ballad)),
    (
        "weihnacht",
        "Christmas song",
        Match::Part,
        Some(Mood::Sacred),
    ),
    ("geistlich", "sacred song", Match::Part, Some(Mood::Sacred)),
    ("religi", "religious song", Match::Part, Some(Mood::Sacred)),
    ("kirche", "church song", Match::Part, Some(Mood::Sacred)),
    (
        "soldaten",
        "soldiers' song",
        Match::Part,
        Some(Mood::Soldier),
    ),
    ("krieg", "war song", Match::Part, Some(Mood::Soldier)),
    ("marsch", "march", Match::Part, Some(Mood::March)),
    ("trink", "drinking song", Match::Part, Some(Mood::Drinking)),
    ("zech", "drinking song", Match::Part, Some(Mood::Drinking)),
    (
        "studenten",
        "students' song",
        Match::Part,
        Some(Mood::Sociable),
    ),
    (
        "geselligkeit",
        "convivial song",
        Match::Part,
        Some(Mood::Sociable),
    ),
    ("jugend", "youth song", Match::Part, Some(Mood::Sociable)),
    ("jaeger", "hunting song", Match::Part, Some(Mood::Hunting)),
    ("jäger", "hunting song", Match::Part, Some(Mood::Hunting)),
    (
        "abschied",
        "farewell song",
        Match::Part,
        Some(Mood::Farewell),
    ),
    ("klage", "lament", Match::Part, Some(Mood::Lament)),
    ("hochzeit", "wedding song", Match::Part, Some(Mood::Wedding)),
    (
        "ehestand",
        "song of married life",
        Match::Part,
        Some(Mood::Wedding),
    ),
    (
        "brauchtum",
        "customary song",
        Match::Part,
        Some(Mood::Festive),
    ),
    ("scherz", "humorous song", Match::Part, Some(Mood::Humor)),
    ("schalk", "jesting song", Match::Part, Some(Mood::Humor)),
    ("schelmen", "rogue's song", Match::Part, Some(Mood::Humor)),
    ("spott", "mocking song", Match::Part, Some(Mood::Humor)),
    ("wander", "wandering song", Match::Part, Some(Mood::Travel)),
    ("heimat", "homeland song", Match::Part, Some(Mood::Homeland)),
    (
        "vaterland",
        "patriotic song",
        Match::Part,
        Some(Mood::Homeland),
    ),
    (
        "jahreszeit",
        "seasonal song",
        Match::Part,
        Some(Mood::Season),
    ),
    ("fruehling", "spring song", Match::Part, Some(Mood::Season)),
    ("natur", "nature song", Match::Part, Some(Mood::Season)),
    (
        "handwerker",
        "craftsmen's song",
        Match::Part,
        Some(Mood::Work),
    ),
    ("beruf", "occupational song", Match::Part, Some(Mood::Work)),
    ("arbeit", "work song", Match::Part, Some(Mood::Work)),
    ("bauern", "peasants' song", Match::Part, Some(Mood::Work)),
    ("tanz", "dance song", Match::Part, Some(Mood::Dance)),
    ("reigen", "round dance", Match::Part, Some(Mood::Dance)),
    ("politisch", "political song", Match::Part, None),
    ("lyrisch", "lyrical song", Match::Part, None),
    // pinyin (Essen han1, han2)
    ("xinminge", "new folk song", Match::Word, None),
    (
        "xiaodiao",
        "xiaodiao (ditty)",
        Match::Word,
        Some(Mood::Ditty),
    ),
    (
        "shange",
        "shan'ge (mountain song)",
        Match::Word,
        Some(Mood::Mountain),
    ),
    (
        "kejiashange",
        "Hakka mountain song",
        Match::Word,
        Some(Mood::Mountain),
    ),
    ("shanqu", "mountain tune", Match::Word, Some(Mood::Mountain)),
    (
        "xintianyou",
        "xintianyou (open-country song)",
        Match::Word,
        Some(Mood::Mountain),
    ),
    (
        "huar",
        "hua'er (northwestern song)",
        Match::Word,
        Some(Mood::Mountain),
    ),
    ("haozi", "haozi (work chant)", Match::Word, Some(Mood::Work)),
    ("tiange", "field song", Match::Word, Some(Mood::Work)),
    ("caicha", "tea-picking song", Match::Word, Some(Mood::Work)),
    ("wuge", "dance song", Match::Word, Some(Mood::Dance)),
    (
        "yangge",
        "yangge (planting-song dance)",
        Match::Word,
        Some(Mood::Dance),
    ),
    (
        "geming",
        "revolutionary song",
        Match::Word,
        Some(Mood::Revolutionary),
    ),
    ("aiqing", "love song", Match::Word, Some(Mood::Love)),
    ("qingge", "love song", Match::Word, Some(Mood::Love)),
    ("erge", "children's song", Match::Word, Some(Mood::Children)),
    ("suku", "song of grievance", Match::Word, Some(Mood::Lament)),
    ("fengsuge", "customs song", Match::Word, Some(Mood::Festive)),
    ("minge", "folk song", Match::Word, None),
    ("lied", "song", Match::Word, None),
];

/// Region glossary: German words of the Essen `O:` fields and their English names.
const REGION_WORDS: &[(&str, &str)] = &[
    ("Europa", "Europe"),
    ("Mitteleuropa", "Central Europe"),
    ("Osteuropa", "Eastern Europe"),
    ("Suedosteuropa", "Southeastern Europe"),
    ("Nordeuropa", "Northern Europe"),
    ("Suedeuropa", "Southern Europe"),
    ("Westeuropa", "Western Europe"),
    ("Asien", "Asia"),
    ("Ostasien", "East Asia"),
    ("Amerika", "America"),
    ("Mittelamerika", "Central America"),
    ("Deutschland", "Germany"),
    ("Lothringen", "Lorraine"),
    ("Luxemburg", "Luxembourg"),
    ("Schlesien", "Silesia"),
    ("Hessen", "Hesse"),
    ("Polen", "Poland"),
    ("Frankreich", "France"),
    ("Jugoslawien", "Yugoslavia"),
    ("Oesterreich", "Austria"),
    ("Niederlande", "Netherlands"),
    ("Elsass", "Alsace"),
    ("Schweiz", "Switzerland"),
    ("Irland", "Ireland"),
    ("UdSSR", "USSR"),
    ("Russland", "Russia"),
    ("Ungarn", "Hungary"),
    ("Tschechoslowakei", "Czechoslovakia"),
    ("Rumaenien", "Romania"),
    ("Bulgarien", "Bulgaria"),
    ("Schweden", "Sweden"),
    ("Daenemark", "Denmark"),
    ("Norwegen", "Norway"),
    ("Italien", "Italy"),
    ("Spanien", "Spain"),
    ("Belgien", "Belgium"),
    ("Island", "Iceland"),
    ("Bayern", "Bavaria"),
    ("Sachsen", "Saxony"),
    ("Thueringen", "Thuringia"),
    ("Westfalen", "Westphalia"),
    ("Rheinland", "Rhineland"),
    ("Niederrhein", "Lower Rhine"),
    ("Rhein", "Rhine"),
    ("Franken", "Franconia"),
    ("Schwaben", "Swabia"),
    ("Pommern", "Pomerania"),
    ("Boehmen", "Bohemia"),
    ("Maehren", "Moravia"),
    ("Siebenbuergen", "Transylvania"),
    ("Tirol", "Tyrol"),
    ("Steiermark", "Styria"),
    ("Kaernten", "Carinthia"),
    ("Schwarzwald", "Black Forest"),
    ("Flandern", "Flanders"),
    ("flaemisch", "Flemish"),
    ("Preussen", "Prussia"),
    ("Ostpreussen", "East Prussia"),
    ("Westpreussen", "West Prussia"),
    ("Nord", "North"),
    ("Sued", "South"),
    ("Ost", "East"),
    ("West", "West"),
    ("Ober", "Upper"),
    ("Nieder", "Lower"),
];

/// What the builder knows about a collection (facts from the corpus files' own headers and
/// licence notes).
#[derive(Debug, Clone, Copy)]
pub(crate) struct CollectionInfo {
    /// The collection's name as a noun phrase.
    pub title: &'static str,
    /// The noun used for a tune without a known genre.
    pub noun: &'static str,
}

/// The [`CollectionInfo`] of a collection folder (and, for `miscFolk`, of its file).
pub(crate) fn collection_info(collection: &str, file: &str) -> CollectionInfo {
    match collection {
        "essenFolksong" => CollectionInfo {
            title: "the Essen Folksong Collection (encoded under the supervision of Helmut Schaffrath)",
            noun: "folk song",
        },
        "oneills1850" => CollectionInfo {
            title: "O'Neill's Music of Ireland, the 1850 melodies collected by Francis O'Neill",
            noun: "tune",
        },
        "ryansMammoth" => CollectionInfo {
            title: "Ryan's Mammoth Collection of fiddle tunes",
            noun: "fiddle tune",
        },
        "airdsAirs" => CollectionInfo {
            title: "James Aird's Selection of Scotch, English, Irish and Foreign Airs (Glasgow), adapted to the fife, violin or German flute",
            noun: "air",
        },
        "miscFolk" if file.contains("americanfife") => CollectionInfo {
            title: "a collection of Colonial and Civil War American fife music",
            noun: "fife tune",
        },
        "miscFolk" if file.contains("northumbrian") => CollectionInfo {
            title: "tunes from Bruce and Stokoe's Northumbrian Minstrelsy (1882)",
            noun: "tune",
        },
        "josquin" => CollectionInfo {
            title: "the works of Josquin des Prez",
            noun: "piece",
        },
        "nottingham-dataset" => CollectionInfo {
            title: "the Nottingham folk music dataset",
            noun: "tune",
        },
        _ => CollectionInfo {
            title: "the music21 corpus",
            noun: "tune",
        },
    }
}

/// The mode of a key signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Major,
    Minor,
    Dorian,
    Phrygian,
    Lydian,
    Mixolydian,
    Locrian,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Major => "major",
            Mode::Minor => "minor",
            Mode::Dorian => "dorian",
            Mode::Phrygian => "phrygian",
            Mode::Lydian => "lydian",
            Mode::Mixolydian => "mixolydian",
            Mode::Locrian => "locrian",
        }
    }

    /// The conventional mood word of a mode (for `scene` and `description`).
    pub(crate) fn mood(self) -> &'static str {
        match self {
            Mode::Major | Mode::Lydian => "bright",
            Mode::Minor | Mode::Phrygian | Mode::Locrian => "wistful",
            Mode::Dorian => "earthy",
            Mode::Mixolydian => "open, modal",
        }
    }
}

/// An English name of a `K:` value, and its mode: `G` → "G major", `Bb` → "B-flat major",
/// `E Minor`, `Em` → "E minor", `Ador` → "A dorian", `HP` → "the Highland bagpipe key
/// signature", `none` → "no key signature". `None` when the value does not parse.
pub(crate) fn key_english(k: &str) -> Option<(String, Option<Mode>)> {
    let k = k.trim();
    if k.eq_ignore_ascii_case("hp") {
        return Some(("the Highland bagpipe key signature".into(), None));
    }
    if k.eq_ignore_ascii_case("none") || k.is_empty() {
        return Some(("no key signature".into(), None));
    }
    let mut chars = k.chars();
    let tonic = chars.next().filter(|c| ('A'..='G').contains(c))?;
    let rest = chars.as_str();
    let (acc, rest) = if let Some(r) = rest.strip_prefix('#') {
        ("-sharp", r)
    } else if let Some(r) = rest.strip_prefix('b') {
        ("-flat", r)
    } else {
        ("", rest)
    };
    let word = rest
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let clef_like = word.contains('=')
        || ["bass", "treble", "alto", "tenor", "-8va", "+8va"].contains(&word.as_str());
    let mode = if word.is_empty() || clef_like {
        Mode::Major
    } else if word == "m" {
        Mode::Minor
    } else {
        match word.get(..3)? {
            "maj" | "ion" => Mode::Major,
            "min" | "aeo" => Mode::Minor,
            "dor" => Mode::Dorian,
            "phr" => Mode::Phrygian,
            "lyd" => Mode::Lydian,
            "mix" => Mode::Mixolydian,
            "loc" => Mode::Locrian,
            _ => return None,
        }
    };
    Some((format!("{tonic}{acc} {}", mode.name()), Some(mode)))
}

/// An English name of an `M:` value (`C` → "4/4 (common time)", `C|` → "2/2 (cut time)",
/// `none` → "free metre", `FREI4/4` → "free metre (4/4)") and its feel word
/// ([`feel`]).
pub(crate) fn meter_english(m: &str) -> (String, &'static str) {
    let m = m.trim();
    match m {
        "C" => ("4/4 (common time)".into(), feel(4, 4)),
        "C|" => ("2/2 (cut time)".into(), feel(2, 2)),
        _ if m.eq_ignore_ascii_case("none") => ("free metre".into(), "free-flowing"),
        _ => {
            if let Some(rest) = m.strip_prefix("FREI") {
                return (format!("free metre ({rest})"), "free-flowing");
            }
            let mut it = m.split('/');
            let num = it.next().and_then(|n| n.trim().parse::<u32>().ok());
            let den = it.next().and_then(|n| n.trim().parse::<u32>().ok());
            match (num, den) {
                (Some(n), Some(d)) => (format!("{n}/{d}"), feel(n, d)),
                _ => (m.to_string(), "steady"),
            }
        }
    }
}

/// A word for how a metre moves: compound metres (6/8, 9/8, 12/8, 3/8, 6/4) "lilting",
/// triple metres "swaying", the others "steady".
pub(crate) fn feel(num: u32, den: u32) -> &'static str {
    match (num, den) {
        (6 | 9 | 12, 8) | (3, 8) | (6 | 9 | 12, 4) => "lilting",
        (3, _) => "swaying",
        _ => "steady",
    }
}

/// Cleans a header value: trailing `]` (an artefact of the Essen conversion), a trailing
/// `%` comment, surrounding quotes and spaces; the Essen hyphenation `Liebes - Lied` becomes
/// `Liebes-Lied`.
pub(crate) fn clean_value(v: &str) -> String {
    let v = match v.find('%') {
        Some(i) => v.get(..i).unwrap_or(v),
        None => v,
    };
    let v = v.trim().trim_end_matches(']').trim();
    let v = v.replace(" - ", "-").replace(" -,", "-,");
    let v = v.replace('"', "");
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// English glosses and the first mood of a genre string, in the string's order, without
/// repeats ([`GENRE_WORDS`]).
pub(crate) fn genre_english(genre: &str) -> (Vec<&'static str>, Option<Mood>) {
    let words: Vec<String> = genre
        .split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '\''))
        .map(|w| w.replace(['-', '\''], "").to_lowercase())
        .filter(|w| !w.is_empty())
        .collect();
    let mut glosses: Vec<&'static str> = Vec::new();
    let mut mood = None;
    let mut i = 0;
    while i < words.len() {
        let mut matched = 0;
        // the longest run of up to three words written together that is a Word key
        for n in (1..=3).rev() {
            let Some(run) = words.get(i..i + n) else {
                continue;
            };
            let joined = run.concat();
            if let Some(e) = GENRE_WORDS
                .iter()
                .find(|e| matches!(e.2, Match::Word) && e.0 == joined)
            {
                push_gloss(&mut glosses, &mut mood, e.1, e.3);
                matched = n;
                break;
            }
        }
        if matched == 0 {
            let w = &words[i];
            // German compounds: every Part key the word contains, in the word's order
            let mut hits: Vec<(usize, &GenreWord)> = GENRE_WORDS
                .iter()
                .filter(|e| matches!(e.2, Match::Part))
                .filter_map(|e| w.find(e.0).map(|p| (p, e)))
                .collect();
            hits.sort_by_key(|(p, _)| *p);
            for (_, e) in hits {
                push_gloss(&mut glosses, &mut mood, e.1, e.3);
            }
            matched = 1;
        }
        i += matched;
    }
    // `Lied` alone says "song"; next to a more specific gloss it adds nothing
    if glosses.len() > 1 {
        glosses.retain(|g| *g != "song");
    }
    (glosses, mood)
}

fn push_gloss(
    glosses: &mut Vec<&'static str>,
    mood: &mut Option<Mood>,
    gloss: &'static str,
    m: Option<Mood>,
) {
    if !glosses.contains(&gloss) {
        glosses.push(gloss);
    }
    if mood.is_none() {
        *mood = m;
    }
}

/// Translates the German words of a region string ([`REGION_WORDS`]); hyphenated prefixes
/// (`Nord-Amerika`) become separate words ("North America"). Other words stay as they are.
fn translate_region_words(s: &str) -> String {
    let mut out = String::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.is_empty() {
            return;
        }
        let parts: Vec<&str> = word.split('-').collect();
        let translated: Vec<String> = parts
            .iter()
            .map(|p| {
                REGION_WORDS
                    .iter()
                    .find(|(de, _)| de == p)
                    .map_or_else(|| (*p).to_string(), |(_, en)| (*en).to_string())
            })
            .collect();
        let all_known = parts
            .iter()
            .all(|p| REGION_WORDS.iter().any(|(de, _)| de == p));
        out.push_str(&if all_known {
            translated.join(" ")
        } else {
            translated.join("-")
        });
        word.clear();
    };
    for c in s.chars() {
        if c.is_alphanumeric() || c == '-' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Continent-level words of the Essen `O:` fields: dropped from the place phrase when a
/// more specific part follows.
const CONTINENT_WORDS: &[&str] = &[
    "Europa",
    "Mitteleuropa",
    "Osteuropa",
    "Suedosteuropa",
    "Nordeuropa",
    "Suedeuropa",
    "Westeuropa",
    "Asien",
    "Ostasien",
    "Amerika",
    "Mittelamerika",
    "Nord-Amerika",
];

/// An English place phrase from an `O:` value: the comma-separated parts, uncertain (`?`),
/// empty and continent-level parts ([`CONTINENT_WORDS`], unless nothing else is left)
/// dropped, unbalanced parentheses removed, words translated ([`REGION_WORDS`]), most
/// specific first: the first (country-level) part and up to three of the most specific
/// ones. `China, Shaanxi, Zizhou` → "Zizhou, Shaanxi, China"; `Europa, Mitteleuropa,
/// Deutschland, Hessen` → "Hesse, Germany".
pub(crate) fn place_english(region: &str) -> Option<String> {
    let cleaned: Vec<String> = region
        .split(',')
        .map(|p| {
            let p = p.replace('?', "");
            let p = if p.matches('(').count() != p.matches(')').count() {
                p.replace(['(', ')'], "")
            } else {
                p
            };
            p.trim().to_string()
        })
        .filter(|p| !p.is_empty() && p.chars().any(char::is_alphabetic))
        .collect();
    let specific: Vec<&String> = cleaned
        .iter()
        .filter(|p| !CONTINENT_WORDS.contains(&p.as_str()))
        .collect();
    let parts: Vec<&String> = if specific.is_empty() {
        cleaned.iter().collect()
    } else {
        specific
    };
    let (first, rest) = parts.split_first()?;
    let mut chosen: Vec<String> = rest
        .iter()
        .rev()
        .take(3)
        .map(|p| translate_region_words(p))
        .collect();
    let top = translate_region_words(first);
    if !chosen.contains(&top) {
        chosen.push(top);
    }
    chosen.dedup();
    Some(chosen.join(", "))
}

/// An `N:` value that is only an identifier or page numbers (`C0002`, `I0500`, `161 962`):
/// not a note for the text.
fn is_reference_number(n: &str) -> bool {
    let compact: String = n.chars().filter(|c| !c.is_whitespace()).collect();
    !compact.is_empty()
        && compact.chars().any(|c| c.is_ascii_digit())
        && compact.chars().all(|c| c.is_ascii_alphanumeric())
        && compact.chars().filter(|c| c.is_ascii_alphabetic()).count() <= 2
}

/// Facts measured on the converted music.
#[derive(Debug, Clone, Default)]
pub(crate) struct MusicFacts {
    /// Bars of the interleaved ABC.
    pub bars: usize,
    /// Voices of the interleaved ABC.
    pub voices: usize,
    /// Sounding notes of the MIDI.
    pub notes: usize,
    /// Lowest and highest note names.
    pub range: Option<(String, String)>,
    /// MIDI length in seconds.
    pub seconds: f64,
}

/// Everything the texts are written from.
#[derive(Debug, Clone)]
pub(crate) struct Facts {
    pub title: Option<String>,
    pub alt_titles: Vec<String>,
    pub artists: Vec<String>,
    pub genre: Option<String>,
    pub genre_en: Vec<&'static str>,
    pub mood: Option<Mood>,
    pub region: Option<String>,
    pub place: Option<String>,
    pub key: Option<String>,
    pub key_en: Option<String>,
    pub mode: Option<Mode>,
    pub meter: Option<String>,
    pub meter_en: Option<String>,
    pub feel: Option<&'static str>,
    pub unit: Option<String>,
    pub tempo: Option<String>,
    pub notes: Vec<String>,
    pub source: Option<String>,
    pub collection: CollectionInfo,
    pub music: MusicFacts,
}

impl Facts {
    /// Reads the facts of a tune from its header fields.
    pub(crate) fn from_fields(
        fields: &Fields,
        collection: &str,
        file: &str,
        music: MusicFacts,
    ) -> Facts {
        let cleaned = |letter: char| -> Vec<String> {
            fields
                .values(letter)
                .into_iter()
                .map(clean_value)
                .filter(|v| !v.is_empty())
                .collect()
        };
        let titles = cleaned('T');
        let title = titles.first().cloned();
        let alt_titles = titles.iter().skip(1).cloned().collect();
        let artists = cleaned('C');
        let genre = fields
            .header('R')
            .map(clean_value)
            .filter(|g| !g.is_empty() && g.chars().any(char::is_alphabetic));
        let (genre_en, mood) = genre
            .as_deref()
            .map(genre_english)
            .unwrap_or((Vec::new(), None));
        let region = fields
            .header('O')
            .map(clean_value)
            .filter(|r| r.chars().any(char::is_alphabetic));
        let place = region.as_deref().and_then(place_english);
        let key = fields.header('K').map(clean_value);
        let key_parsed = key.as_deref().and_then(key_english);
        let meter = fields
            .header('M')
            .map(clean_value)
            .filter(|m| !m.is_empty());
        let meter_parsed = meter.as_deref().map(meter_english);
        let notes = cleaned('N')
            .into_iter()
            .filter(|n| !is_reference_number(n))
            .collect();
        let source = fields
            .header('S')
            .map(clean_value)
            .filter(|s| s.split(|c: char| !c.is_alphabetic()).any(|w| w.len() >= 3));
        Facts {
            title,
            alt_titles,
            artists,
            genre,
            genre_en,
            mood,
            region,
            place,
            key,
            key_en: key_parsed.as_ref().map(|k| k.0.clone()),
            mode: key_parsed.and_then(|k| k.1),
            meter,
            meter_en: meter_parsed.as_ref().map(|m| m.0.clone()),
            feel: meter_parsed.map(|m| m.1),
            unit: fields
                .header('L')
                .map(clean_value)
                .filter(|v| !v.is_empty()),
            tempo: fields
                .header('Q')
                .map(clean_value)
                .filter(|v| !v.is_empty()),
            notes,
            source,
            collection: collection_info(collection, file),
            music,
        }
    }

    /// The noun phrase for the tune: its English genre glosses (up to two), or the
    /// collection's noun.
    fn kind(&self) -> String {
        match self.genre_en.as_slice() {
            [] => self.collection.noun.to_string(),
            [one] => (*one).to_string(),
            [a, b, ..] => format!("{a} and {b}"),
        }
    }

    /// `background`: history and context — title (and other titles), composer credit,
    /// place, collection, source, the collection's notes (often German).
    pub(crate) fn background(&self) -> String {
        let mut s = String::new();
        let kind = self.kind();
        match &self.title {
            Some(t) => {
                s.push_str(&format!("\"{t}\""));
                if !self.alt_titles.is_empty() {
                    let alts: Vec<String> =
                        self.alt_titles.iter().map(|a| format!("\"{a}\"")).collect();
                    s.push_str(&format!(" (also known as {})", alts.join(", ")));
                }
                s.push_str(&format!(" is {} {kind}", article(&kind)));
            }
            None => s.push_str(&format!("This untitled piece is {} {kind}", article(&kind))),
        }
        if let Some(p) = &self.place {
            s.push_str(&format!(" from {p}"));
        }
        if !self.artists.is_empty() {
            let artists: Vec<&str> = self
                .artists
                .iter()
                .map(|a| a.trim_end_matches('.'))
                .collect();
            s.push_str(&format!(", credited to {}", artists.join(" and ")));
        }
        s.push_str(&format!(". It is part of {}.", self.collection.title));
        if let (Some(r), Some(p)) = (&self.region, &self.place) {
            if r != p {
                s.push_str(&format!(" The collection gives its origin as \"{r}\"."));
            }
        }
        if let Some(src) = &self.source {
            s.push_str(&format!(" Source: {}.", src.trim_end_matches('.')));
        }
        if !self.notes.is_empty() {
            let notes = self.notes.join(" ");
            s.push_str(&format!(
                " Notes in the collection: {}",
                end_sentence(&notes)
            ));
        }
        s
    }

    /// `analysis`: musical structure — key, metre, note length, tempo, genre or rhythm,
    /// bars, voices, notes, range, duration.
    pub(crate) fn analysis(&self) -> String {
        let mut s = String::new();
        let m = &self.music;
        match (&self.key_en, &self.key) {
            (Some(en), Some(k)) => s.push_str(&format!("The music is notated in {en} (K:{k})")),
            (None, Some(k)) => s.push_str(&format!("The key field reads K:{k}")),
            _ => s.push_str("The music has no key field"),
        }
        match &self.meter_en {
            Some(me) => s.push_str(&format!(" with a time signature of {me}.")),
            None => s.push('.'),
        }
        if let Some(u) = &self.unit {
            s.push_str(&format!(" The default note length is {u}."));
        }
        if let Some(q) = &self.tempo {
            s.push_str(&format!(" The tempo is marked {q}."));
        }
        if let Some(g) = &self.genre {
            s.push_str(&format!(" Its rhythm or genre is given as \"{g}\""));
            if !self.genre_en.is_empty() {
                s.push_str(&format!(" ({})", self.genre_en.join(", ")));
            }
            s.push('.');
        }
        s.push_str(&format!(
            " It has {} {}",
            m.bars,
            plural(m.bars, "bar", "bars")
        ));
        if m.voices > 1 {
            s.push_str(&format!(" in {} voices", m.voices));
        }
        s.push_str(&format!(
            " and {} {}",
            m.notes,
            plural(m.notes, "note", "notes")
        ));
        if let Some((lo, hi)) = &m.range {
            s.push_str(&format!(", ranging from {lo} to {hi}"));
        }
        s.push_str(&format!(
            ". Played from the score it lasts about {} seconds.",
            m.seconds.round()
        ));
        s
    }

    /// `description`: a general description without title or composer — mood, genre,
    /// place, key, metre, size and range.
    pub(crate) fn description(&self) -> String {
        let m = &self.music;
        let kind = self.kind();
        let phrase = match self.mode {
            Some(mode) => format!("{} {kind}", mode.mood()),
            None => kind,
        };
        let mut s = format!("{} {phrase}", capitalize(article(&phrase)));
        if let Some(p) = &self.place {
            s.push_str(&format!(" from {p}"));
        }
        if let Some(g) = &self.genre {
            if !self.genre_en.iter().any(|e| e.eq_ignore_ascii_case(g)) {
                s.push_str(&format!(", described in the source as \"{g}\""));
            }
        }
        let mut musical = Vec::new();
        if let Some(k) = &self.key_en {
            musical.push(k.clone());
        }
        if let Some(me) = &self.meter_en {
            musical.push(format!("{me} time"));
        }
        if !musical.is_empty() {
            s.push_str(&format!(", in {}", musical.join(" and ")));
        }
        s.push_str(&format!(
            ", {} {} long with {} {}",
            m.bars,
            plural(m.bars, "bar", "bars"),
            m.notes,
            plural(m.notes, "note", "notes")
        ));
        if let Some((lo, hi)) = &m.range {
            s.push_str(&format!(" spanning {lo} to {hi}"));
        }
        s.push('.');
        s
    }

    /// `scene`: imagery and mood — the title, the genre's setting sentence (or a sentence
    /// from the collection's noun), the place, and the mode's and metre's mood words.
    pub(crate) fn scene(&self) -> String {
        let setting = match self.mood {
            Some(mood) => mood.setting().to_string(),
            None => {
                let kind = self.kind();
                format!(
                    "{} {kind} is sung or played in a simple setting",
                    capitalize(article(&kind))
                )
            }
        };
        let mut s = match &self.title {
            Some(t) => format!("\"{t}\" sets the scene: {}", lower_first(&setting)),
            None => setting,
        };
        if let Some(p) = &self.place {
            s.push_str(&format!(", somewhere in {p}"));
        }
        s.push('.');
        let mut words = Vec::new();
        if let Some(mode) = self.mode {
            words.push(mode.mood());
        }
        if let Some(f) = self.feel {
            words.push(f);
        }
        if !words.is_empty() {
            s.push_str(&format!(" The mood is {}.", words.join(" and ")));
        }
        s
    }
}

/// `a` or `an` for a noun phrase (by its first letter).
fn article(phrase: &str) -> &'static str {
    match phrase.chars().next().map(|c| c.to_ascii_lowercase()) {
        Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
        _ => "a",
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// Ends a sentence with a full stop unless it already ends with punctuation.
fn end_sentence(s: &str) -> String {
    let t = s.trim_end();
    if t.ends_with(['.', '!', '?']) {
        t.to_string()
    } else {
        format!("{t}.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        let k = |s: &str| key_english(s).map(|k| k.0);
        assert_eq!(k("G").as_deref(), Some("G major"));
        assert_eq!(k("Bb").as_deref(), Some("B-flat major"));
        assert_eq!(k("F#m").as_deref(), Some("F-sharp minor"));
        assert_eq!(k("E Minor").as_deref(), Some("E minor"));
        assert_eq!(k("Ador").as_deref(), Some("A dorian"));
        assert_eq!(k("A Mixolydian").as_deref(), Some("A mixolydian"));
        assert_eq!(k("E phr bass").as_deref(), Some("E phrygian"));
        assert_eq!(k("C clef=bass").as_deref(), Some("C major"));
        assert_eq!(
            k("HP").as_deref(),
            Some("the Highland bagpipe key signature")
        );
        assert_eq!(k("Xyz"), None);
        assert_eq!(k("Gfoo"), None);
    }

    #[test]
    fn meters() {
        assert_eq!(meter_english("C"), ("4/4 (common time)".into(), "steady"));
        assert_eq!(meter_english("C|"), ("2/2 (cut time)".into(), "steady"));
        assert_eq!(meter_english("6/8"), ("6/8".into(), "lilting"));
        assert_eq!(meter_english("3/4"), ("3/4".into(), "swaying"));
        assert_eq!(meter_english("none").1, "free-flowing");
        assert_eq!(meter_english("FREI4/4").0, "free metre (4/4)");
    }

    #[test]
    fn genres() {
        let (g, m) = genre_english("Romanze, Ballade, Lied, religioeses Lied");
        assert_eq!(g, vec!["romance", "ballad", "religious song"]);
        assert_eq!(genre_english("Lied").0, vec!["song"]);
        assert_eq!(m, Some(Mood::Ballad));
        let (g, m) = genre_english("Kinder-, Wiegen-Lied");
        assert_eq!(g, vec!["children's song", "lullaby"]);
        assert_eq!(m, Some(Mood::Children));
        assert_eq!(genre_english("slip jig").0, vec!["slip jig"]);
        assert_eq!(genre_english("double jig").0, vec!["double jig"]);
        assert_eq!(genre_english("REEL").0, vec!["reel"]);
        let (g, m) = genre_english("Xiaodiao. Geming lishi minge");
        assert_eq!(
            g,
            vec!["xiaodiao (ditty)", "revolutionary song", "folk song"]
        );
        assert_eq!(m, Some(Mood::Ditty));
        assert_eq!(
            genre_english("Wuge, Shuichuan qu. Xin minge").0,
            vec!["dance song", "new folk song"]
        );
        assert!(genre_english("???").0.is_empty());
    }

    #[test]
    fn places_and_values() {
        assert_eq!(
            place_english("China, Shaanxi, Zizhou").as_deref(),
            Some("Zizhou, Shaanxi, China")
        );
        assert_eq!(
            place_english("Europa, Mitteleuropa, Deutschland, Hessen ?").as_deref(),
            Some("Hesse, Germany")
        );
        assert_eq!(
            place_english("China, bei Anhui, Fengtai, Nord)").as_deref(),
            Some("North, Fengtai, bei Anhui, China")
        );
        assert_eq!(
            place_english("Europa, Mitteleuropa, Deutschland, Schlesien, Hainau; Liegnitz")
                .as_deref(),
            Some("Hainau; Liegnitz, Silesia, Germany")
        );
        assert_eq!(
            place_english("Europa, Mitteleuropa").as_deref(),
            Some("Central Europe, Europe")
        );
        assert_eq!(place_english("Nord-Amerika, USA").as_deref(), Some("USA"));
        assert_eq!(
            place_english("Mitteleuropa, Deutschland / Frankreich").as_deref(),
            Some("Germany / France")
        );
        assert_eq!(place_english(" ? "), None);
        assert_eq!(clean_value(" Liebes - Lied]"), "Liebes-Lied");
        assert_eq!(
            clean_value("\"Moderate\" \"collected by F. O'Neill\""),
            "Moderate collected by F. O'Neill"
        );
        assert_eq!(clean_value("9/8 % Aird bars it in 6/8"), "9/8");
        assert!(is_reference_number("C0002"));
        assert!(is_reference_number("161 962"));
        assert!(!is_reference_number("Cut 18-19."));
        assert!(!is_reference_number("Slow"));
    }

    #[test]
    fn texts_from_an_essen_tune() {
        let fields = Fields::parse(
            "X:2\nT: Zanmen de ling xiu Mao Zedong\nN: C0003\nO: China, Shaanxi, Nordwesten\n\
             S: I, 50]\nN: neues Volkslied. Hauefig waehrend der Kulturrevolution gesungen.\n\
             R: Xiaodiao. Geming lishi minge]\nM: 2/4\nL: 1/16\nK: F\nc4c4|\n",
        );
        let music = MusicFacts {
            bars: 18,
            voices: 1,
            notes: 60,
            range: Some(("C4".into(), "F5".into())),
            seconds: 35.6,
        };
        let f = Facts::from_fields(&fields, "essenFolksong", "essenFolksong/han1.abc", music);
        assert_eq!(f.title.as_deref(), Some("Zanmen de ling xiu Mao Zedong"));
        assert_eq!(
            f.notes,
            vec!["neues Volkslied. Hauefig waehrend der Kulturrevolution gesungen."]
        );
        assert_eq!(f.source, None);
        let b = f.background();
        assert!(b.starts_with("\"Zanmen de ling xiu Mao Zedong\" is a xiaodiao (ditty) and revolutionary song from Nordwesten, Shaanxi, China."), "{b}");
        assert!(b.contains("Kulturrevolution"), "{b}");
        let d = f.description();
        assert!(!d.contains("Zanmen"), "{d}");
        assert_eq!(d, "A bright xiaodiao (ditty) and revolutionary song from Nordwesten, Shaanxi, China, described in the source as \"Xiaodiao. Geming lishi minge\", in F major and 2/4 time, 18 bars long with 60 notes spanning C4 to F5.");
        let a = f.analysis();
        assert!(
            a.starts_with("The music is notated in F major (K:F) with a time signature of 2/4."),
            "{a}"
        );
        assert!(a.ends_with("lasts about 36 seconds."), "{a}");
        assert_eq!(f.scene(), "\"Zanmen de ling xiu Mao Zedong\" sets the scene: a singer offers a short, tuneful ditty to a small gathering, somewhere in Nordwesten, Shaanxi, China. The mood is bright and steady.");
    }
}
