//! Languages: names for prompts, codes for users, and identification of a text's language
//! (whatlang, trigram models of 69 languages).

use whatlang::Lang;

/// A language the annotations or translations are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Language {
    /// The code the user gave it by (ISO 639-1 where there is one).
    pub code: &'static str,
    /// English name, used in prompts and in the record's `translations.language`.
    pub name: &'static str,
    /// The identifier's language, `None` when whatlang has no model for it (then fields in
    /// it are not language-checked).
    pub detect: Option<Lang>,
}

/// The 27 languages of M4-RAG (CLaMP 3 §9.1): ISO 639-1 code, English name, whatlang code.
const TABLE: [(&str, &str, Option<&str>); 27] = [
    ("en", "English", Some("eng")),
    ("es", "Spanish", Some("spa")),
    ("fr", "French", Some("fra")),
    ("de", "German", Some("deu")),
    ("pt", "Portuguese", Some("por")),
    ("ja", "Japanese", Some("jpn")),
    ("it", "Italian", Some("ita")),
    ("zh", "Chinese", Some("cmn")),
    ("ko", "Korean", Some("kor")),
    ("ru", "Russian", Some("rus")),
    ("vi", "Vietnamese", Some("vie")),
    ("nl", "Dutch", Some("nld")),
    ("pl", "Polish", Some("pol")),
    ("tr", "Turkish", Some("tur")),
    ("ar", "Arabic", Some("ara")),
    ("id", "Indonesian", Some("ind")),
    ("fa", "Persian", Some("pes")),
    ("he", "Hebrew", Some("heb")),
    ("cs", "Czech", Some("ces")),
    ("th", "Thai", Some("tha")),
    ("hi", "Hindi", Some("hin")),
    ("lo", "Lao", None),
    ("bn", "Bengali", Some("ben")),
    ("km", "Khmer", Some("khm")),
    ("ur", "Urdu", Some("urd")),
    ("my", "Burmese", Some("mya")),
    ("ms", "Malay", None),
];

/// An unknown language name or code (the user's input).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown language \"{0}\" (use an ISO 639-1 code such as \"de\", an ISO 639-3 code, or an English name)")]
pub struct UnknownLanguage(pub String);

impl Language {
    /// Parses an ISO 639-1 code of an M4-RAG language, an ISO 639-3 code or English name
    /// of a language whatlang knows, or one of the table's English names (case-insensitive).
    pub fn parse(s: &str) -> Result<Language, UnknownLanguage> {
        let k = s.trim().to_ascii_lowercase();
        for (code, name, wl) in TABLE {
            if k == code || k == name.to_ascii_lowercase() || wl.is_some_and(|w| w == k) {
                return Ok(Language {
                    code,
                    name,
                    detect: wl.and_then(Lang::from_code),
                });
            }
        }
        for &l in Lang::all() {
            if k == l.code() || k == l.eng_name().to_ascii_lowercase() {
                return Ok(Language {
                    code: l.code(),
                    name: l.eng_name(),
                    detect: Some(l),
                });
            }
        }
        Err(UnknownLanguage(s.to_string()))
    }
}

/// The language of `text` as whatlang identifies it, with its confidence (0..1), or `None`
/// when it cannot tell.
pub fn identify(text: &str) -> Option<(Lang, f64)> {
    whatlang::detect(text).map(|i| (i.lang(), i.confidence()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_parse() {
        assert_eq!(Language::parse("de").unwrap().name, "German");
        assert_eq!(Language::parse("German").unwrap().code, "de");
        assert_eq!(Language::parse("deu").unwrap().code, "de");
        assert_eq!(Language::parse("ukr").unwrap().name, "Ukrainian");
        assert_eq!(Language::parse("ms").unwrap().detect, None);
        let e = Language::parse("xx").unwrap_err().to_string();
        assert!(e.contains("unknown language \"xx\""), "{e}");
    }

    #[test]
    fn identifies_real_corpus_sentences() {
        // The `N:` notes of the first tune of the Essen collection's han1.abc.
        let de = "neue Volkslied. Text eines volkstuemlichen Saengers, dessen Name am Ende erscheint. Er arbeitete frueher als Arbeiter-Vorsaenger.";
        assert_eq!(identify(de).unwrap().0, Lang::Deu);
        let en = "A lively Irish reel in D major, played at a quick tempo for dancing.";
        assert_eq!(identify(en).unwrap().0, Lang::Eng);
    }
}
