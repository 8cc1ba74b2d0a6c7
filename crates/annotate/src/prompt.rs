//! The chat messages of the two requests: writing an annotation from the sources, and
//! translating its free-text fields.

use crate::item::Item;
use crate::lang::Language;
use crate::llm::Message;
use crate::schema::{Annotation, ANNOTATION_FIELDS};
use crate::source::Page;

/// The system message of the annotation request.
pub fn annotation_system(language: &Language) -> String {
    format!(
        "You annotate music for a music-text dataset. From the KNOWN FACTS and the SOURCES \
about one piece of music, write one JSON object with exactly these fields: {fields}. \
title: the piece's title. artists: composers or performers named in the sources (a list, \
empty when unknown). region: the country or region of origin. language: the language of \
its lyrics, or \"instrumental\". genres and tags: short lists. background: its history and \
origin. analysis: its musical features (key, meter, form, melody, rhythm). description: a \
short general description. scene: a setting the music suits. Write background, analysis, \
description and scene as one to three full sentences each, in {lang}. Use only what the KNOWN FACTS and SOURCES say: do not invent names, dates or places. \
Answer with the JSON object only.",
        fields = ANNOTATION_FIELDS.join(", "),
        lang = language.name,
    )
}

/// The user message of the annotation request: the item's facts and the chosen passages.
pub fn annotation_user(item: &Item, passages: &[Page]) -> String {
    let mut s = String::from("KNOWN FACTS:\n");
    s.push_str(&item.facts_text());
    s.push_str("\nSOURCES:\n");
    if passages.is_empty() {
        s.push_str("(none)\n");
    }
    for (i, p) in passages.iter().enumerate() {
        s.push_str(&format!("[{}] {}\n{}\n\n", i + 1, p.origin, p.text.trim()));
    }
    s
}

/// The annotation request.
pub fn annotation_messages(item: &Item, passages: &[Page], language: &Language) -> Vec<Message> {
    vec![
        Message {
            role: "system",
            content: annotation_system(language),
        },
        Message {
            role: "user",
            content: annotation_user(item, passages),
        },
    ]
}

/// The translation request for the non-empty `fields` of `a`.
pub fn translation_messages(
    a: &Annotation,
    fields: &[&str],
    from: &Language,
    to: &Language,
) -> Vec<Message> {
    let mut obj = serde_json::Map::new();
    for f in fields {
        obj.insert(f.to_string(), a.text(f).into());
    }
    vec![
        Message {
            role: "system",
            content: format!(
                "You translate music annotations from {} into {}. Translate the value of every \
field of the JSON object the user gives, keeping names of people, places and pieces. Answer \
with a JSON object with the same fields ({}) holding the translations, and nothing else.",
                from.name,
                to.name,
                fields.join(", ")
            ),
        },
        Message {
            role: "user",
            content: serde_json::Value::Object(obj).to_string(),
        },
    ]
}
