//! Element-tree style access to a parsed MusicXML document.
//!
//! The reference reads MusicXML through Python's ElementTree, whose lookups define what it
//! sees: `find("a/b")` is the first `b` child of any `a` child (in document order),
//! `findtext` is `None` for a missing element and `""` for an empty one, an element's text is
//! the character data before its first child element (comments and processing instructions
//! dropped, the pieces around them joined), and tags in a namespace never match a plain name.
//! These helpers give the converter the same view over a `roxmltree` document.

use std::borrow::Cow;

/// A node of the parsed document.
pub type Node<'a> = roxmltree::Node<'a, 'a>;

/// Whether `n` is an element named `name` (with no namespace).
pub fn is(n: Node<'_>, name: &str) -> bool {
    n.is_element() && n.tag_name().name() == name && n.tag_name().namespace().is_none()
}

/// The element's tag as ElementTree spells it: `{uri}name` for namespaced elements.
pub fn tag(n: Node<'_>) -> Cow<'_, str> {
    match n.tag_name().namespace() {
        None => Cow::Borrowed(n.tag_name().name()),
        Some(ns) => Cow::Owned(format!("{{{ns}}}{}", n.tag_name().name())),
    }
}

/// The element children of `n`, in document order.
pub fn elements<'a>(n: Node<'a>) -> impl Iterator<Item = Node<'a>> {
    n.children().filter(|c| c.is_element())
}

/// The element children of `n` named `name`.
pub fn children<'a>(n: Node<'a>, name: &'a str) -> impl Iterator<Item = Node<'a>> + 'a {
    n.children().filter(move |c| is(*c, name))
}

/// The first element child of `n` named `name`.
pub fn child<'a>(n: Node<'a>, name: &str) -> Option<Node<'a>> {
    n.children().find(|c| is(*c, name))
}

/// ElementTree's `find(path)` for a `/`-separated path of plain tag names.
pub fn find<'a>(n: Node<'a>, path: &str) -> Option<Node<'a>> {
    match path.split_once('/') {
        None => child(n, path),
        Some((head, rest)) => n
            .children()
            .filter(|c| is(*c, head))
            .find_map(|c| find(c, rest)),
    }
}

/// ElementTree's `findall(path)`: every match, ordered by the path's steps.
pub fn findall<'a>(n: Node<'a>, path: &str) -> Vec<Node<'a>> {
    let mut out = Vec::new();
    collect(n, path, &mut out);
    out
}

fn collect<'a>(n: Node<'a>, path: &str, out: &mut Vec<Node<'a>>) {
    match path.split_once('/') {
        None => out.extend(n.children().filter(|c| is(*c, path))),
        Some((head, rest)) => {
            for c in n.children().filter(|c| is(*c, head)) {
                collect(c, rest, out);
            }
        }
    }
}

/// ElementTree's `element.text`: the character data before the first child element, or
/// `None` when there is none.
pub fn text<'a>(n: Node<'a>) -> Option<Cow<'a, str>> {
    let mut pieces = n
        .children()
        .take_while(|c| !c.is_element())
        .filter(|c| c.is_text())
        .filter_map(|c| c.text());
    let first = pieces.next()?;
    match pieces.next() {
        None => Some(Cow::Borrowed(first)),
        Some(second) => {
            let mut s = String::from(first);
            s.push_str(second);
            pieces.for_each(|p| s.push_str(p));
            Some(Cow::Owned(s))
        }
    }
}

/// ElementTree's `findtext(path)`: `None` when nothing matches, the (possibly empty) text
/// of the first match otherwise.
pub fn findtext<'a>(n: Node<'a>, path: &str) -> Option<Cow<'a, str>> {
    find(n, path).map(|e| text(e).unwrap_or(Cow::Borrowed("")))
}

/// An attribute value (`element.get(name)`).
pub fn get<'a>(n: Node<'a>, name: &str) -> Option<&'a str> {
    n.attribute(name)
}

/// The truth value of an ElementTree element (`if element:`): true when it has children.
pub fn truthy(n: Node<'_>) -> bool {
    n.children().any(|c| c.is_element())
}

/// The element children of one element, indexed once: for elements that are queried many
/// times (notes), this replaces repeated walks over the sibling list.
pub struct Kids<'a> {
    kids: Vec<(&'a str, Node<'a>)>,
}

impl<'a> Kids<'a> {
    /// Index the plain-named element children of `n`.
    pub fn of(n: Node<'a>) -> Kids<'a> {
        let kids = n
            .children()
            .filter(|c| c.is_element() && c.tag_name().namespace().is_none())
            .map(|c| (c.tag_name().name(), c))
            .collect();
        Kids { kids }
    }

    /// [`child`] through the index.
    pub fn child(&self, name: &str) -> Option<Node<'a>> {
        self.kids.iter().find(|(k, _)| *k == name).map(|(_, n)| *n)
    }

    /// [`children`] through the index.
    pub fn children<'s>(&'s self, name: &'s str) -> impl Iterator<Item = Node<'a>> + 's {
        self.kids
            .iter()
            .filter(move |(k, _)| *k == name)
            .map(|(_, n)| *n)
    }

    /// [`find`] through the index.
    pub fn find(&self, path: &str) -> Option<Node<'a>> {
        match path.split_once('/') {
            None => self.child(path),
            Some((head, rest)) => self.children(head).find_map(|c| find(c, rest)),
        }
    }

    /// [`findall`] through the index.
    pub fn findall(&self, path: &str) -> Vec<Node<'a>> {
        match path.split_once('/') {
            None => self.children(path).collect(),
            Some((head, rest)) => {
                let mut out = Vec::new();
                for c in self.children(head) {
                    collect(c, rest, &mut out);
                }
                out
            }
        }
    }

    /// [`findtext`] through the index.
    pub fn findtext(&self, path: &str) -> Option<Cow<'a, str>> {
        self.find(path)
            .map(|e| text(e).unwrap_or(Cow::Borrowed("")))
    }
}

/// Whether a document prolog (the text before the root element) has an internal DTD subset
/// that declares an attribute default (`<!ATTLIST e a CDATA "v">` or `#FIXED "v"`). The
/// reference's parser (expat) adds such defaults to the elements; this crate does not, so
/// such documents are refused.
pub fn declares_attribute_defaults(prolog: &str) -> bool {
    let b = prolog.as_bytes();
    let at = |i: usize, pat: &[u8]| b.get(i..).is_some_and(|r| r.starts_with(pat));
    let skip_to = |i: usize, pat: &[u8]| -> Option<usize> {
        b.get(i..)?
            .windows(pat.len())
            .position(|w| w == pat)
            .map(|p| i + p + pat.len())
    };
    let mut i = 0;
    // Find the DOCTYPE, skipping comments and processing instructions.
    loop {
        if i >= b.len() {
            return false;
        }
        if at(i, b"<!--") {
            match skip_to(i, b"-->") {
                Some(j) => i = j,
                None => return false,
            }
        } else if at(i, b"<?") {
            match skip_to(i, b"?>") {
                Some(j) => i = j,
                None => return false,
            }
        } else if at(i, b"<!DOCTYPE") {
            i += b"<!DOCTYPE".len();
            break;
        } else {
            i += 1;
        }
    }
    // Up to the internal subset (quoted system/public ids may hold brackets).
    let mut quote: Option<u8> = None;
    while i < b.len() {
        match (quote, b[i]) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(b[i]),
            (None, b'[') => break,
            (None, b'>') => return false,
            _ => {}
        }
        i += 1;
    }
    i += 1;
    // The declarations of the subset: an ATTLIST with a quoted literal has a default.
    while i < b.len() {
        if b[i] == b']' {
            return false;
        }
        if at(i, b"<!--") {
            match skip_to(i, b"-->") {
                Some(j) => i = j,
                None => return false,
            }
            continue;
        }
        if b[i] == b'<' {
            let is_attlist = at(i, b"<!ATTLIST");
            let mut q: Option<u8> = None;
            i += 1;
            while i < b.len() {
                match (q, b[i]) {
                    (Some(x), c) if c == x => q = None,
                    (Some(_), _) => {}
                    (None, b'"' | b'\'') => {
                        if is_attlist {
                            return true;
                        }
                        q = Some(b[i]);
                    }
                    (None, b'>') => break,
                    _ => {}
                }
                i += 1;
            }
        }
        i += 1;
    }
    false
}
