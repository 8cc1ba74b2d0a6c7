//! The M4-RAG record schema the model writes (CLaMP 3 §9.1): the JSON Schema sent to servers
//! that constrain their output with it, and the validation every answer goes through.

use serde::Serialize;
use serde_json::{Map, Value};

/// The fields the model writes, in schema order (`id`, `filepaths` and `translations` are
/// added by the pipeline).
pub const ANNOTATION_FIELDS: [&str; 10] = [
    "title",
    "artists",
    "region",
    "language",
    "genres",
    "tags",
    "background",
    "analysis",
    "description",
    "scene",
];

/// The free-text fields: checked for language, length, grounding and duplicates, and the
/// ones translated.
pub const TEXT_FIELDS: [&str; 4] = ["background", "analysis", "description", "scene"];

/// Size limits written into the schema (so a constraining server cannot exceed them) and
/// checked again on every answer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchemaLimits {
    /// Longest free-text field, in characters.
    pub max_text_chars: usize,
    /// Shortest free-text field written into the schema as `minLength` (0: not written).
    /// Grammar-constrained servers (llama.cpp) then cannot answer shorter; OpenAI's strict
    /// mode does not accept `minLength`.
    pub min_text_chars: usize,
    /// Longest short field (title, region, language, list entries), in characters.
    pub max_short_chars: usize,
    /// Most entries in `artists`, `genres` or `tags`.
    pub max_list: usize,
}

impl Default for SchemaLimits {
    fn default() -> Self {
        SchemaLimits {
            max_text_chars: 1500,
            min_text_chars: 0,
            max_short_chars: 120,
            max_list: 10,
        }
    }
}

/// One model answer that passed validation: the M4-RAG annotation fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Annotation {
    /// Title.
    pub title: String,
    /// Artists or composers.
    pub artists: Vec<String>,
    /// Country or region.
    pub region: String,
    /// Language of the lyrics (or "instrumental").
    pub language: String,
    /// Genres.
    pub genres: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Background (history, origin).
    pub background: String,
    /// Musical analysis.
    pub analysis: String,
    /// Description.
    pub description: String,
    /// A scene the music suits.
    pub scene: String,
}

impl Annotation {
    /// A free-text field by name ([`TEXT_FIELDS`]).
    pub fn text(&self, name: &str) -> &str {
        match name {
            "background" => &self.background,
            "analysis" => &self.analysis,
            "description" => &self.description,
            "scene" => &self.scene,
            "title" => &self.title,
            "region" => &self.region,
            "language" => &self.language,
            _ => "",
        }
    }

    /// Every string of the annotation with its field name, in schema order.
    pub fn strings(&self) -> Vec<(&'static str, &str)> {
        let mut out = vec![("title", self.title.as_str())];
        out.extend(self.artists.iter().map(|a| ("artists", a.as_str())));
        out.push(("region", &self.region));
        out.push(("language", &self.language));
        out.extend(self.genres.iter().map(|a| ("genres", a.as_str())));
        out.extend(self.tags.iter().map(|a| ("tags", a.as_str())));
        for f in TEXT_FIELDS {
            out.push((f, self.text(f)));
        }
        out
    }
}

/// A validated translation of the free-text fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Translation {
    /// Target language (English name, e.g. "German").
    pub language: String,
    /// The translated fields, by name ([`TEXT_FIELDS`] order; empty source fields stay out).
    pub fields: Vec<(String, String)>,
}

/// Why an answer is not a valid annotation (the model's fault).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SchemaError {
    /// Not JSON at all (or truncated).
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    /// JSON, but not of the schema.
    #[error("off schema: {0}")]
    OffSchema(String),
}

impl SchemaError {
    /// A short reason label for summaries.
    pub fn label(&self) -> &'static str {
        match self {
            SchemaError::InvalidJson(_) => "invalid JSON",
            SchemaError::OffSchema(_) => "off schema",
        }
    }
}

/// A JSON Schema document that keeps its keys in the order written: servers that compile
/// the schema to a grammar make the model write the properties in this order (title
/// first, the free text last), which `serde_json::Value` would sort alphabetically.
#[derive(Debug, Clone, PartialEq)]
pub enum Schema {
    /// An object, keys in order.
    Object(Vec<(String, Schema)>),
    /// An array.
    Array(Vec<Schema>),
    /// A string.
    Str(String),
    /// A number.
    Num(u64),
    /// A boolean.
    Bool(bool),
}

impl Serialize for Schema {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            Schema::Object(kv) => {
                let mut m = s.serialize_map(Some(kv.len()))?;
                for (k, v) in kv {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
            Schema::Array(items) => {
                let mut q = s.serialize_seq(Some(items.len()))?;
                for v in items {
                    q.serialize_element(v)?;
                }
                q.end()
            }
            Schema::Str(v) => s.serialize_str(v),
            Schema::Num(v) => s.serialize_u64(*v),
            Schema::Bool(v) => s.serialize_bool(*v),
        }
    }
}

impl Schema {
    fn obj(kv: Vec<(&str, Schema)>) -> Schema {
        Schema::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    fn str(v: &str) -> Schema {
        Schema::Str(v.to_string())
    }

    /// The schema as a (key-sorted) JSON value.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

fn string_of(max: usize) -> Schema {
    Schema::obj(vec![
        ("type", Schema::str("string")),
        ("maxLength", Schema::Num(max as u64)),
    ])
}

fn text_of(l: &SchemaLimits) -> Schema {
    let mut kv = vec![("type", Schema::str("string"))];
    if l.min_text_chars > 0 {
        kv.push(("minLength", Schema::Num(l.min_text_chars as u64)));
    }
    kv.push(("maxLength", Schema::Num(l.max_text_chars as u64)));
    Schema::obj(kv)
}

fn string_list(l: &SchemaLimits) -> Schema {
    Schema::obj(vec![
        ("type", Schema::str("array")),
        ("items", string_of(l.max_short_chars)),
        ("maxItems", Schema::Num(l.max_list as u64)),
    ])
}

fn object_of(fields: Vec<(&str, Schema)>) -> Schema {
    let required = Schema::Array(fields.iter().map(|(k, _)| Schema::str(k)).collect());
    Schema::obj(vec![
        ("type", Schema::str("object")),
        ("properties", Schema::obj(fields)),
        ("required", required),
        ("additionalProperties", Schema::Bool(false)),
    ])
}

/// The JSON Schema of an annotation (all fields required, in [`ANNOTATION_FIELDS`] order,
/// nothing else allowed).
pub fn annotation_schema(l: &SchemaLimits) -> Schema {
    let fields = ANNOTATION_FIELDS
        .iter()
        .map(|&f| {
            let v = match f {
                "artists" | "genres" | "tags" => string_list(l),
                "title" | "region" | "language" => string_of(l.max_short_chars),
                _ => text_of(l),
            };
            (f, v)
        })
        .collect();
    object_of(fields)
}

/// The JSON Schema of a translation of `fields` (a subset of [`TEXT_FIELDS`]).
pub fn translation_schema(fields: &[&str], l: &SchemaLimits) -> Schema {
    object_of(fields.iter().map(|&f| (f, text_of(l))).collect())
}

/// Extracts the JSON object of an answer: the whole text, or the text between the first
/// `{` and the last `}` (servers without schema support may wrap it in prose or a code
/// fence).
fn json_object(answer: &str) -> Result<Map<String, Value>, SchemaError> {
    let t = answer.trim();
    let parsed =
        serde_json::from_str::<Value>(t).or_else(|first| match (t.find('{'), t.rfind('}')) {
            (Some(a), Some(b)) if a < b => serde_json::from_str::<Value>(&t[a..=b]),
            _ => Err(first),
        });
    match parsed {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(SchemaError::OffSchema(format!(
            "the answer is JSON but not an object ({})",
            kind(&other)
        ))),
        Err(e) => Err(SchemaError::InvalidJson(e.to_string())),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn take_string(m: &mut Map<String, Value>, f: &str, max: usize) -> Result<String, SchemaError> {
    match m.remove(f) {
        Some(Value::String(s)) => {
            let n = s.chars().count();
            if n > max {
                return Err(SchemaError::OffSchema(format!(
                    "field \"{f}\" has {n} characters (at most {max})"
                )));
            }
            Ok(s.trim().to_string())
        }
        Some(other) => Err(SchemaError::OffSchema(format!(
            "field \"{f}\" must be a string, not {}",
            kind(&other)
        ))),
        None => Err(SchemaError::OffSchema(format!("field \"{f}\" is missing"))),
    }
}

fn take_list(
    m: &mut Map<String, Value>,
    f: &str,
    l: &SchemaLimits,
) -> Result<Vec<String>, SchemaError> {
    match m.remove(f) {
        Some(Value::Array(items)) => {
            if items.len() > l.max_list {
                return Err(SchemaError::OffSchema(format!(
                    "field \"{f}\" has {} entries (at most {})",
                    items.len(),
                    l.max_list
                )));
            }
            let mut out = Vec::with_capacity(items.len());
            for v in items {
                match v {
                    Value::String(s) if s.chars().count() <= l.max_short_chars => {
                        let s = s.trim().to_string();
                        if !s.is_empty() && !out.contains(&s) {
                            out.push(s);
                        }
                    }
                    Value::String(_) => {
                        return Err(SchemaError::OffSchema(format!(
                            "an entry of \"{f}\" is longer than {} characters",
                            l.max_short_chars
                        )))
                    }
                    other => {
                        return Err(SchemaError::OffSchema(format!(
                            "entries of \"{f}\" must be strings, not {}",
                            kind(&other)
                        )))
                    }
                }
            }
            Ok(out)
        }
        Some(other) => Err(SchemaError::OffSchema(format!(
            "field \"{f}\" must be a list of strings, not {}",
            kind(&other)
        ))),
        None => Err(SchemaError::OffSchema(format!("field \"{f}\" is missing"))),
    }
}

fn no_extra(m: &Map<String, Value>) -> Result<(), SchemaError> {
    match m.keys().next() {
        Some(k) => Err(SchemaError::OffSchema(format!("unexpected field \"{k}\""))),
        None => Ok(()),
    }
}

/// Validates a model answer against [`annotation_schema`].
pub fn parse_annotation(answer: &str, l: &SchemaLimits) -> Result<Annotation, SchemaError> {
    let mut m = json_object(answer)?;
    let a = Annotation {
        title: take_string(&mut m, "title", l.max_short_chars)?,
        artists: take_list(&mut m, "artists", l)?,
        region: take_string(&mut m, "region", l.max_short_chars)?,
        language: take_string(&mut m, "language", l.max_short_chars)?,
        genres: take_list(&mut m, "genres", l)?,
        tags: take_list(&mut m, "tags", l)?,
        background: take_string(&mut m, "background", l.max_text_chars)?,
        analysis: take_string(&mut m, "analysis", l.max_text_chars)?,
        description: take_string(&mut m, "description", l.max_text_chars)?,
        scene: take_string(&mut m, "scene", l.max_text_chars)?,
    };
    no_extra(&m)?;
    Ok(a)
}

/// Validates a translation answer against [`translation_schema`] for `fields`.
pub fn parse_translation(
    answer: &str,
    fields: &[&str],
    language: &str,
    l: &SchemaLimits,
) -> Result<Translation, SchemaError> {
    let mut m = json_object(answer)?;
    let mut out = Translation {
        language: language.to_string(),
        fields: Vec::new(),
    };
    for f in fields {
        out.fields
            .push((f.to_string(), take_string(&mut m, f, l.max_text_chars)?));
    }
    // A model may echo the target language although the schema does not ask for it.
    m.remove("language");
    no_extra(&m)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::json;

    fn full() -> Value {
        json!({"title": "T", "artists": ["A", "A", ""], "region": "Ireland", "language": "instrumental",
               "genres": ["reel"], "tags": [], "background": "b", "analysis": "a",
               "description": "d", "scene": "s"})
    }

    #[test]
    fn valid_answers_parse_and_lists_are_cleaned() {
        let l = SchemaLimits::default();
        let a = parse_annotation(&full().to_string(), &l).unwrap();
        assert_eq!(a.artists, vec!["A"]);
        assert_eq!(a.region, "Ireland");
        let fenced = format!("Here it is:\n```json\n{}\n```", full());
        assert_eq!(parse_annotation(&fenced, &l).unwrap(), a);
    }

    #[test]
    fn off_schema_and_invalid_answers_say_why() {
        let l = SchemaLimits::default();
        let cases: Vec<(Value, &str)> = vec![
            (
                json!({"title": 5}),
                "field \"title\" must be a string, not a number",
            ),
            (json!({"title": "t"}), "field \"artists\" is missing"),
            (
                {
                    let mut v = full();
                    v["genres"] = json!("reel");
                    v
                },
                "field \"genres\" must be a list of strings, not a string",
            ),
            (
                {
                    let mut v = full();
                    v["tags"] = json!([1]);
                    v
                },
                "entries of \"tags\" must be strings",
            ),
            (
                {
                    let mut v = full();
                    v["mood"] = json!("x");
                    v
                },
                "unexpected field \"mood\"",
            ),
            (
                {
                    let mut v = full();
                    v["scene"] = json!("x".repeat(2000));
                    v
                },
                "field \"scene\" has 2000 characters (at most 1500)",
            ),
            (
                {
                    let mut v = full();
                    v["tags"] = json!(vec!["t"; 11]);
                    v
                },
                "field \"tags\" has 11 entries (at most 10)",
            ),
            (json!([1, 2]), "not an object (an array)"),
        ];
        for (v, want) in cases {
            let e = parse_annotation(&v.to_string(), &l).unwrap_err();
            assert_eq!(e.label(), "off schema", "{v}");
            assert!(e.to_string().contains(want), "{e} / {want}");
        }
        let e = parse_annotation("{\"title\": \"trunc", &l).unwrap_err();
        assert_eq!(e.label(), "invalid JSON");
        assert_eq!(
            parse_annotation("", &l).unwrap_err().label(),
            "invalid JSON"
        );
    }

    #[test]
    fn arbitrary_answers_never_panic() {
        // Mutations of a valid answer (bytes replaced, cut, duplicated) and random bytes.
        let l = SchemaLimits::default();
        let base = full().to_string().into_bytes();
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let alphabet = b"{}[]\",:0123456789abc \\u\xff\xfe";
        for _ in 0..3000 {
            let mut b = base.clone();
            match next() % 3 {
                0 => {
                    for _ in 0..(next() % 8 + 1) {
                        let i = (next() as usize) % b.len();
                        b[i] = alphabet[(next() as usize) % alphabet.len()];
                    }
                }
                1 => b.truncate((next() as usize) % b.len()),
                _ => {
                    b = (0..next() % 64)
                        .map(|_| alphabet[(next() as usize) % alphabet.len()])
                        .collect()
                }
            }
            let _ = parse_annotation(&String::from_utf8_lossy(&b), &l);
            let _ = parse_translation(&String::from_utf8_lossy(&b), &["analysis"], "German", &l);
        }
    }

    #[test]
    fn schema_lists_every_field_as_required() {
        let schema = annotation_schema(&SchemaLimits::default());
        // Serialised in schema order, not sorted.
        let text = serde_json::to_string(&schema).unwrap();
        assert!(
            text.find("\"title\"").unwrap() < text.find("\"analysis\"").unwrap(),
            "{text}"
        );
        let s = schema.to_value();
        assert_eq!(
            s["required"].as_array().unwrap().len(),
            ANNOTATION_FIELDS.len()
        );
        assert_eq!(s["additionalProperties"], false);
        assert_eq!(s["properties"]["tags"]["maxItems"], 10);
        assert!(s["properties"]["scene"].get("minLength").is_none());
        let l = SchemaLimits {
            min_text_chars: 30,
            ..SchemaLimits::default()
        };
        assert_eq!(
            annotation_schema(&l).to_value()["properties"]["scene"]["minLength"],
            30
        );
        let t = translation_schema(&["analysis"], &SchemaLimits::default()).to_value();
        assert_eq!(t["required"], json!(["analysis"]));
    }
}
