//! Quality filters (CLaMP 3 §9.1, step 4): title screening before generation; length,
//! language, grounding, repetition and duplicate checks of every answer; checks of every
//! translation. Thresholds are configurable; each rejection names its reason and numbers.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::lang::{identify, Language};
use crate::schema::{Annotation, Translation, TEXT_FIELDS};

/// Filter thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilterConfig {
    /// Items without a title are not annotated (the paper's title filtering).
    pub require_title: bool,
    /// Fewest characters of each free-text field (`background`, `analysis`,
    /// `description`, `scene`).
    pub min_text_chars: usize,
    /// Fewest characters a field needs for its language to be checked (shorter texts
    /// are identified unreliably).
    pub language_min_chars: usize,
    /// A field identified as another language with at least this confidence (0..1) is
    /// rejected.
    pub language_confidence: f64,
    /// Least fraction of a field's content words found in the retrieved text and known
    /// facts (0 disables the check).
    pub min_grounding: f64,
    /// The fields checked for grounding: the free-text fields named here one by one, the
    /// short fields named here (`title`, `artists`, `region`, `genres`, `tags`) together.
    /// `scene` is left out by default: it imagines a setting, which no source states.
    pub grounded_fields: Vec<String>,
    /// Least fraction of distinct word trigrams in a field of 12 words or more, of
    /// distinct words in a field of 3 to 11 (catches looping output; 0 disables the check).
    pub min_distinct_trigrams: f64,
    /// Reject an answer whose free-text field repeats another of its fields, or one already
    /// written for another item.
    pub reject_duplicates: bool,
}

impl Default for FilterConfig {
    fn default() -> Self {
        FilterConfig {
            require_title: true,
            min_text_chars: 30,
            language_min_chars: 40,
            language_confidence: 0.5,
            min_grounding: 0.5,
            grounded_fields: [
                "title",
                "artists",
                "region",
                "genres",
                "tags",
                "background",
                "analysis",
                "description",
            ]
            .map(String::from)
            .to_vec(),
            min_distinct_trigrams: 0.5,
            reject_duplicates: true,
        }
    }
}

/// Why an item produced no record (the item's or the model's fault).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Reason {
    /// No title to annotate by.
    NoTitle,
    /// A placeholder title ("Untitled", "Track 3").
    GenericTitle {
        /// The title.
        title: String,
    },
    /// The answer was not JSON (after the configured regenerations).
    InvalidJson {
        /// The parser's message.
        message: String,
    },
    /// The answer was JSON but not of the schema.
    OffSchema {
        /// What was wrong.
        message: String,
    },
    /// A free-text field is shorter than allowed.
    TooShort {
        /// The field.
        field: String,
        /// Its length in characters.
        chars: usize,
        /// The minimum.
        min: usize,
    },
    /// A field is in another language.
    WrongLanguage {
        /// The field.
        field: String,
        /// The language found (English name).
        found: String,
        /// The identifier's confidence.
        confidence: f64,
        /// The language asked for.
        expected: String,
    },
    /// Too little of a field comes from the retrieved text.
    Ungrounded {
        /// The field (`short fields` for title, artists, region, genres and tags together).
        field: String,
        /// Fraction of its content words found in the sources.
        score: f64,
        /// The threshold.
        min: f64,
        /// Some of the words not found.
        unsupported: Vec<String>,
    },
    /// A field loops.
    Repetitive {
        /// The field.
        field: String,
        /// Fraction of distinct word trigrams.
        distinct: f64,
    },
    /// A free-text field repeats another field of the same answer.
    RepeatedField {
        /// The field.
        field: String,
        /// The field it repeats.
        of: String,
    },
    /// A field repeats one already written for another item.
    Duplicate {
        /// The field.
        field: String,
        /// The other item.
        of: String,
    },
}

impl Reason {
    /// The reason's short label (summary key).
    pub fn label(&self) -> &'static str {
        match self {
            Reason::NoTitle => "no title",
            Reason::GenericTitle { .. } => "generic title",
            Reason::InvalidJson { .. } => "invalid JSON",
            Reason::OffSchema { .. } => "off schema",
            Reason::TooShort { .. } => "too short",
            Reason::WrongLanguage { .. } => "wrong language",
            Reason::Ungrounded { .. } => "not grounded",
            Reason::Repetitive { .. } => "repetitive",
            Reason::RepeatedField { .. } => "repeated field",
            Reason::Duplicate { .. } => "duplicate",
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::NoTitle => write!(f, "no title"),
            Reason::GenericTitle { title } => write!(f, "generic title \"{title}\""),
            Reason::InvalidJson { message } => write!(f, "invalid JSON: {message}"),
            Reason::OffSchema { message } => write!(f, "off schema: {message}"),
            Reason::TooShort { field, chars, min } => {
                write!(f, "{field} too short ({chars} < {min} characters)")
            }
            Reason::WrongLanguage {
                field,
                found,
                confidence,
                expected,
            } => write!(
                f,
                "{field} is in {found} (confidence {confidence:.2}), not {expected}"
            ),
            Reason::Ungrounded {
                field,
                score,
                min,
                unsupported,
            } => write!(
                f,
                "{field} not grounded: {:.0}% of content words in the sources (< {:.0}%), e.g. {}",
                score * 100.0,
                min * 100.0,
                unsupported.join(", ")
            ),
            Reason::Repetitive { field, distinct } => write!(
                f,
                "{field} repeats itself ({:.0}% distinct trigrams)",
                distinct * 100.0
            ),
            Reason::RepeatedField { field, of } => write!(f, "{field} repeats {of}"),
            Reason::Duplicate { field, of } => write!(f, "{field} duplicates item \"{of}\""),
        }
    }
}

/// The words of `s`: maximal alphanumeric runs, lowercased and transliterated to ASCII
/// (so "Gemütlichkeit" and "Gemutlichkeit" match).
pub fn words(s: &str) -> Vec<String> {
    deunicode::deunicode(s)
        .to_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Words that carry no claim: English function words and the general vocabulary any
/// description of music uses. They are left out of the grounding score.
const NEUTRAL: &str = "a about above after again against all also although always among an and any are around as at be because been before being below between both but by can could did do does doing down during each even ever every few for from further had has have having he her here hers him his how however i if in into is it its itself just like made make makes many may might more most much must my no nor not now of off often on once one only or other our out over own perhaps quite rather same she should show shows so some such than that the their them then there these they this those through thus to too two under until up upon very was we were what when where whether which while who whom whose why will with within without would yet you your \
music musical musically melody melodies melodic rhythm rhythms rhythmic rhythmically tempo tempos harmony harmonies harmonic major minor mode modal scale scales note notes phrase phrases phrasing section sections part parts piece pieces song songs tune tunes work works composition compositions folk traditional tradition traditions dance dances dancing instrumental instrument instruments vocal vocals voice voices lyrics lyric verse verses chorus refrain structure structured form forms repeat repeats repeated repetition repetitive time meter metre signature beat beats measure measures bar bars line lines lively gentle simple simplicity slow fast quick moderate moderately upbeat cheerful melancholic melancholy sad happy joyful joyous calm peaceful serene nostalgic nostalgia playful energetic bright warm soft style styles stylistic character characteristic characteristics mood moods feeling feelings emotion emotional emotions atmosphere setting scene scenes evening morning night celebration celebrations gathering gatherings festival festivals festive community communities people region regional culture cultural heritage history historical origin origins originally known often typically usually commonly features feature featuring uses use used using creates create creating created suitable perfect ideal evokes evoke evoking sense listener listeners audience performed performance performances perform played playing play sung singing sing singer singers sings accompanied accompaniment key keys range ascending descending stepwise steps leaps motion motifs motif theme themes contour overall throughout within while flowing smooth clear strong distinct distinctive unique rich classic classical popular common general various several different throughout each whole";

/// Whether `w` (a lowercase word) is one of the [neutral](NEUTRAL) words.
pub fn is_neutral(w: &str) -> bool {
    neutral().contains(w)
}

fn neutral() -> &'static HashSet<&'static str> {
    static SET: std::sync::OnceLock<HashSet<&'static str>> = std::sync::OnceLock::new();
    SET.get_or_init(|| NEUTRAL.split_whitespace().collect())
}

/// The key content words are matched by: the first six letters (so inflections such as
/// "ballad"/"ballads" match), or the whole word when shorter.
fn stem(w: &str) -> &str {
    match w.char_indices().nth(6) {
        Some((i, _)) => &w[..i],
        None => w,
    }
}

/// Whether `w` makes a claim to check: a number of two digits or more, or a word of four
/// letters or more that is not [neutral](NEUTRAL) (only English answers have neutral words).
fn is_content(w: &str, english: bool) -> bool {
    if w.chars().all(|c| c.is_ascii_digit()) {
        return w.len() >= 2;
    }
    w.chars().count() >= 4 && !(english && neutral().contains(w))
}

/// The words of the sources, as grounding keys.
#[derive(Debug, Default, Clone)]
pub struct Grounding {
    keys: HashSet<String>,
}

impl Grounding {
    /// The keys of every word of `texts`.
    pub fn new<'a>(texts: impl IntoIterator<Item = &'a str>) -> Grounding {
        let mut keys = HashSet::new();
        for t in texts {
            for w in words(t) {
                keys.insert(stem(&w).to_string());
            }
        }
        Grounding { keys }
    }

    /// The fraction of the content words of `strings` found in the sources (1 when there
    /// are none), and up to eight of those not found.
    pub fn score<'a>(
        &self,
        strings: impl IntoIterator<Item = &'a str>,
        english: bool,
    ) -> (f64, Vec<String>) {
        let (mut total, mut found) = (0usize, 0usize);
        let mut missing: Vec<String> = Vec::new();
        for s in strings {
            for w in words(s) {
                if !is_content(&w, english) {
                    continue;
                }
                total += 1;
                if self.keys.contains(stem(&w)) {
                    found += 1;
                } else if missing.len() < 8 && !missing.contains(&w) {
                    missing.push(w);
                }
            }
        }
        if total == 0 {
            return (1.0, missing);
        }
        (found as f64 / total as f64, missing)
    }
}

/// Fraction of distinct word trigrams in `text`; for texts of 3 to 11 words, of distinct
/// words (1 for shorter texts).
pub fn distinct_trigrams(text: &str) -> f64 {
    let w = words(text);
    if w.len() < 3 {
        return 1.0;
    }
    if w.len() < 12 {
        let distinct: HashSet<&String> = w.iter().collect();
        return distinct.len() as f64 / w.len() as f64;
    }
    let grams: Vec<&[String]> = w.windows(3).collect();
    let distinct: HashSet<&[String]> = grams.iter().copied().collect();
    distinct.len() as f64 / grams.len() as f64
}

/// Screens an item's title before any request: `Some(reason)` when it is missing or a
/// placeholder.
pub fn screen_title(title: Option<&str>, cfg: &FilterConfig) -> Option<Reason> {
    if !cfg.require_title {
        return None;
    }
    let Some(t) = title.map(str::trim).filter(|t| !t.is_empty()) else {
        return Some(Reason::NoTitle);
    };
    let w = words(t);
    let placeholder = [
        "untitled",
        "unknown",
        "title",
        "track",
        "song",
        "tune",
        "no",
        "none",
        "audio",
        "new",
        "recording",
    ];
    let generic = w.is_empty()
        || w.iter()
            .all(|x| placeholder.contains(&x.as_str()) || x.chars().all(|c| c.is_ascii_digit()));
    generic.then(|| Reason::GenericTitle {
        title: t.to_string(),
    })
}

fn check_language(field: &str, text: &str, want: &Language, cfg: &FilterConfig) -> Option<Reason> {
    let want_lang = want.detect?;
    if text.chars().count() < cfg.language_min_chars {
        return None;
    }
    let (found, confidence) = identify(text)?;
    (found != want_lang && confidence >= cfg.language_confidence).then(|| Reason::WrongLanguage {
        field: field.to_string(),
        found: found.eng_name().to_string(),
        confidence,
        expected: want.name.to_string(),
    })
}

/// Checks an answer (all but duplicates, which need the whole run: [`Dedup`]); the first
/// failing check is the reason. `grounding` holds the sources' words; the result is the
/// lowest grounding score of the fields.
pub fn check_annotation(
    a: &Annotation,
    language: &Language,
    grounding: &Grounding,
    cfg: &FilterConfig,
) -> Result<f64, Reason> {
    for f in TEXT_FIELDS {
        let chars = a.text(f).chars().count();
        if chars < cfg.min_text_chars {
            return Err(Reason::TooShort {
                field: f.to_string(),
                chars,
                min: cfg.min_text_chars,
            });
        }
    }
    for f in TEXT_FIELDS {
        if let Some(r) = check_language(f, a.text(f), language, cfg) {
            return Err(r);
        }
    }
    for (i, f) in TEXT_FIELDS.iter().enumerate() {
        let text = a.text(f);
        if text.is_empty() || !cfg.reject_duplicates {
            continue;
        }
        let same = TEXT_FIELDS[..i]
            .iter()
            .find(|g| fingerprint(a.text(g)) == fingerprint(text));
        if let Some(g) = same {
            return Err(Reason::RepeatedField {
                field: f.to_string(),
                of: g.to_string(),
            });
        }
    }
    if cfg.min_distinct_trigrams > 0.0 {
        for f in TEXT_FIELDS {
            let d = distinct_trigrams(a.text(f));
            if d < cfg.min_distinct_trigrams {
                return Err(Reason::Repetitive {
                    field: f.to_string(),
                    distinct: d,
                });
            }
        }
    }
    // Grounding per field: one invented paragraph is not diluted by the others.
    let english = language.code == "en";
    let grounded = |f: &str| cfg.grounded_fields.iter().any(|g| g == f);
    let short: Vec<&str> = a
        .strings()
        .into_iter()
        .filter(|(f, _)| !TEXT_FIELDS.contains(f) && grounded(f))
        .map(|(_, s)| s)
        .collect();
    let mut groups: Vec<(&str, Vec<&str>)> = vec![("short fields", short)];
    groups.extend(
        TEXT_FIELDS
            .iter()
            .filter(|f| grounded(f))
            .map(|f| (*f, vec![a.text(f)])),
    );
    let mut lowest = 1.0f64;
    for (field, strings) in groups {
        let (score, unsupported) = grounding.score(strings, english);
        if cfg.min_grounding > 0.0 && score < cfg.min_grounding {
            return Err(Reason::Ungrounded {
                field: field.to_string(),
                score,
                min: cfg.min_grounding,
                unsupported,
            });
        }
        lowest = lowest.min(score);
    }
    Ok(lowest)
}

/// Checks a translation; `Err((label, detail))` says why it is dropped (the record is still
/// written, without it).
pub fn check_translation(
    source: &Annotation,
    t: &Translation,
    target: &Language,
    cfg: &FilterConfig,
) -> Result<(), (&'static str, String)> {
    for (field, text) in &t.fields {
        let src = source.text(field);
        let (n, m) = (text.chars().count(), src.chars().count());
        if n == 0 {
            return Err(("empty", format!("{field} is empty")));
        }
        if m > 0 && (n * 10 < m * 3 || n > m * 3) {
            return Err((
                "length",
                format!("{field} has {n} characters for {m} in the source (outside 0.3x-3x)"),
            ));
        }
        if text.trim() == src.trim() && m >= cfg.language_min_chars {
            return Err((
                "not translated",
                format!("{field} is not translated (a copy of the source)"),
            ));
        }
        if let Some(r) = check_language(field, text, target, cfg) {
            return Err(("wrong language", r.to_string()));
        }
    }
    Ok(())
}

fn fingerprint(text: &str) -> [u8; 32] {
    let norm = words(text).join(" ");
    Sha256::digest(norm.as_bytes()).into()
}

/// Free-text fields already written, to reject duplicates (in this run or a resumed one).
#[derive(Debug, Default)]
pub struct Dedup {
    seen: HashMap<[u8; 32], String>,
    min_chars: usize,
}

impl Dedup {
    /// An empty index; fields shorter than `min_chars` are not compared.
    pub fn new(min_chars: usize) -> Dedup {
        Dedup {
            seen: HashMap::new(),
            min_chars,
        }
    }

    /// The first field of `fields` (name, text) that repeats another item's, and that item.
    pub fn check<'a>(
        &self,
        fields: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Option<Reason> {
        for (f, text) in fields {
            if text.chars().count() < self.min_chars.max(1) {
                continue;
            }
            if let Some(of) = self.seen.get(&fingerprint(text)) {
                return Some(Reason::Duplicate {
                    field: f.to_string(),
                    of: of.clone(),
                });
            }
        }
        None
    }

    /// Records the fields of item `id`.
    pub fn insert<'a>(&mut self, id: &str, fields: impl IntoIterator<Item = &'a str>) {
        for text in fields {
            if text.chars().count() >= self.min_chars.max(1) {
                self.seen
                    .entry(fingerprint(text))
                    .or_insert_with(|| id.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn en() -> Language {
        Language::parse("en").unwrap()
    }

    fn answer() -> Annotation {
        Annotation {
            title: "Ritter und Magd".into(),
            artists: vec![],
            region: "Deutschland".into(),
            language: "German".into(),
            genres: vec!["Ballade".into()],
            tags: vec!["Lothringen".into()],
            background:
                "A ballad collected in Lothringen, part of the Essen collection of German songs."
                    .into(),
            analysis: "The tune is in 3/4 time and in G major, with a simple stepwise melody."
                .into(),
            description:
                "A German ballad, Ritter und Magd, sung in 3/4 time in the Lothringen region."
                    .into(),
            scene: "A quiet evening of singing ballads together in a village in Lothringen.".into(),
        }
    }

    fn sources() -> Grounding {
        Grounding::new([
            "title: Ritter und Magd\norigin: Europa, Mitteleuropa, Deutschland, Lothringen\nrhythm: Ballade\nmeter: 3/4\nkey: G\nbook: Essen collection, German songs",
        ])
    }

    #[test]
    fn a_grounded_english_answer_passes() {
        let cfg = FilterConfig::default();
        let score = check_annotation(&answer(), &en(), &sources(), &cfg).unwrap();
        assert!(score >= cfg.min_grounding, "{score}");
        // The scene imagines a setting the sources do not state: checked only on request.
        let mut with_scene = cfg.clone();
        with_scene.grounded_fields.push("scene".into());
        let r = check_annotation(&answer(), &en(), &sources(), &with_scene).unwrap_err();
        assert!(r.to_string().starts_with("scene not grounded"), "{r}");
    }

    #[test]
    fn each_check_rejects_with_its_reason() {
        let cfg = FilterConfig::default();
        let mut a = answer();
        a.scene = "Short.".into();
        assert_eq!(
            check_annotation(&a, &en(), &sources(), &cfg).unwrap_err(),
            Reason::TooShort {
                field: "scene".into(),
                chars: 6,
                min: 30
            }
        );
        let mut a = answer();
        a.analysis =
            "Die Melodie steht im Dreivierteltakt und bewegt sich meist schrittweise aufwaerts."
                .into();
        let r = check_annotation(&a, &en(), &sources(), &cfg).unwrap_err();
        assert_eq!(r.label(), "wrong language", "{r}");
        assert!(r.to_string().starts_with("analysis is in German"), "{r}");
        let mut a = answer();
        a.background =
            "Composed by Wolfgang Amadeus Mozart in Vienna during 1791 for the emperor Leopold."
                .into();
        let r = check_annotation(&a, &en(), &sources(), &cfg).unwrap_err();
        assert_eq!(r.label(), "not grounded", "{r}");
        assert!(r.to_string().starts_with("background not grounded"), "{r}");
        assert!(r.to_string().contains("mozart"), "{r}");
        let mut a = answer();
        a.description =
            "the song the song the song the song the song the song the song the song".into();
        assert_eq!(
            check_annotation(&a, &en(), &sources(), &cfg)
                .unwrap_err()
                .label(),
            "repetitive"
        );
    }

    #[test]
    fn titles_are_screened() {
        let cfg = FilterConfig::default();
        assert_eq!(screen_title(None, &cfg), Some(Reason::NoTitle));
        assert_eq!(
            screen_title(Some("Track 03"), &cfg).unwrap().label(),
            "generic title"
        );
        assert_eq!(
            screen_title(Some("Untitled"), &cfg).unwrap().label(),
            "generic title"
        );
        assert_eq!(screen_title(Some("The Kesh"), &cfg), None);
    }

    #[test]
    fn duplicates_name_the_first_item() {
        let mut d = Dedup::new(10);
        d.insert("a", ["A lively reel from County Clare.", "short"]);
        assert_eq!(
            d.check([("analysis", "a LIVELY reel, from County Clare!")]),
            Some(Reason::Duplicate {
                field: "analysis".into(),
                of: "a".into()
            })
        );
        assert_eq!(d.check([("scene", "short")]), None);
        assert_eq!(d.check([("scene", "Another reel entirely.")]), None);
    }

    #[test]
    fn translations_are_checked() {
        let cfg = FilterConfig::default();
        let de = Language::parse("de").unwrap();
        let src = answer();
        let good = Translation {
            language: "German".into(),
            fields: vec![(
                "analysis".into(),
                "Die Melodie steht im Dreivierteltakt und in G-Dur, mit einer einfachen schrittweisen Linie.".into(),
            )],
        };
        assert_eq!(check_translation(&src, &good, &de, &cfg), Ok(()));
        let copy = Translation {
            language: "German".into(),
            fields: vec![("analysis".into(), src.analysis.clone())],
        };
        let e = check_translation(&src, &copy, &de, &cfg).unwrap_err();
        assert_eq!(e.0, "not translated", "{e:?}");
        let short = Translation {
            language: "German".into(),
            fields: vec![("analysis".into(), "Ja.".into())],
        };
        assert_eq!(
            check_translation(&src, &short, &de, &cfg).unwrap_err().0,
            "length"
        );
    }
}
