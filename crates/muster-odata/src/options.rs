//! The list-shaped options (`$orderby`, `$select`, `$expand`), `$search`, and the counts
//! (`$top`, `$skip`).

use crate::ast::{OrderBy, Path, SearchTerm};
use crate::lexer::{tokenize, Spanned, Token};
use crate::{check_length, ParseError};

fn error(option: &'static str, position: usize, message: impl Into<String>) -> ParseError {
    ParseError { option, position, message: message.into() }
}

/// Splits tokens into comma-separated items, refusing empty ones.
fn items(option: &'static str, text: &str) -> Result<Vec<Vec<Spanned>>, ParseError> {
    check_length(option, text)?;
    let tokens = tokenize(option, text)?;
    let mut out = vec![Vec::new()];
    for token in tokens {
        if token.token == Token::Comma {
            if out.last().is_some_and(Vec::is_empty) {
                return Err(error(option, token.at, "an empty item before ','"));
            }
            out.push(Vec::new());
        } else if let Some(last) = out.last_mut() {
            last.push(token);
        }
    }
    if out.last().is_some_and(Vec::is_empty) {
        return Err(error(option, text.len(), "the list is empty or ends with ','"));
    }
    Ok(out)
}

/// A property path `a/b/c` at the start of an item; returns it and the tokens after it.
fn path<'a>(option: &'static str, tokens: &'a [Spanned]) -> Result<(Path, &'a [Spanned]), ParseError> {
    let mut segments = Vec::new();
    let mut rest = tokens;
    loop {
        match rest.first() {
            Some(Spanned { token: Token::Ident(name), at }) => {
                if name.starts_with('$') {
                    return Err(error(option, *at, format!("'{name}' is not supported here")));
                }
                segments.push(name.clone());
                rest = &rest[1..];
            }
            Some(other) => {
                return Err(error(
                    option,
                    other.at,
                    format!("expected a property name, found {}", other.token.describe()),
                ))
            }
            None => return Err(error(option, 0, "expected a property name")),
        }
        match rest.first() {
            Some(Spanned { token: Token::Slash, .. }) => rest = &rest[1..],
            _ => return Ok((Path { segments, count: false }, rest)),
        }
    }
}

/// `$orderby=severity desc,lastActivityDateTime`.
pub fn parse_orderby(text: &str) -> Result<Vec<OrderBy>, ParseError> {
    const OPTION: &str = "$orderby";
    let mut out = Vec::new();
    for item in items(OPTION, text)? {
        let (path, rest) = path(OPTION, &item)?;
        let descending = match rest {
            [] => false,
            [Spanned { token: Token::Ident(dir), at }, more @ ..] => {
                let descending = match dir.as_str() {
                    "asc" => false,
                    "desc" => true,
                    _ => return Err(error(OPTION, *at, format!("expected 'asc' or 'desc', found '{dir}'"))),
                };
                if let Some(extra) = more.first() {
                    return Err(error(OPTION, extra.at, format!("unexpected {}", extra.token.describe())));
                }
                descending
            }
            [other, ..] => return Err(error(OPTION, other.at, format!("unexpected {}", other.token.describe()))),
        };
        out.push(OrderBy { path, descending });
    }
    Ok(out)
}

/// `$select=id,displayName` (or `*`, read as everything: `None`).
pub fn parse_select(text: &str) -> Result<Option<Vec<Path>>, ParseError> {
    const OPTION: &str = "$select";
    let mut out = Vec::new();
    for item in items(OPTION, text)? {
        if let [Spanned { token: Token::Star, .. }] = item.as_slice() {
            return Ok(None);
        }
        let (path, rest) = path(OPTION, &item)?;
        if let Some(extra) = rest.first() {
            return Err(error(OPTION, extra.at, format!("unexpected {}", extra.token.describe())));
        }
        out.push(path);
    }
    Ok(Some(out))
}

/// `$expand=alerts`: navigation properties, without nested options.
pub fn parse_expand(text: &str) -> Result<Vec<Path>, ParseError> {
    const OPTION: &str = "$expand";
    // Nested options hold characters of their own grammar: refuse them before tokenizing.
    if let Some(at) = text.find('(') {
        return Err(error(OPTION, at, "options inside $expand are not supported"));
    }
    let mut out = Vec::new();
    for item in items(OPTION, text)? {
        if let [Spanned { token: Token::Star, .. }] = item.as_slice() {
            return Err(error(OPTION, item[0].at, "'*' is not supported; name the navigation properties"));
        }
        let (path, rest) = path(OPTION, &item)?;
        match rest.first() {
            None => out.push(path),
            Some(Spanned { token: Token::LParen, at }) => {
                return Err(error(OPTION, *at, "options inside $expand are not supported"));
            }
            Some(extra) => return Err(error(OPTION, extra.at, format!("unexpected {}", extra.token.describe()))),
        }
    }
    Ok(out)
}

/// `$search`: words and double-quoted phrases, all of which must match; `NOT` before a term
/// negates it and `AND` between terms is implied. `OR` is refused rather than misread.
pub fn parse_search(text: &str) -> Result<Vec<SearchTerm>, ParseError> {
    const OPTION: &str = "$search";
    check_length(OPTION, text)?;
    let mut terms = Vec::new();
    let mut negate = false;
    let mut chars = text.char_indices().peekable();
    while let Some(&(at, ch)) = chars.peek() {
        if ch.is_whitespace() {
            chars.next();
            continue;
        }
        let word = if ch == '"' {
            chars.next();
            let mut phrase = String::new();
            let mut closed = false;
            while let Some((_, c)) = chars.next() {
                match c {
                    '"' => {
                        closed = true;
                        break;
                    }
                    '\\' => phrase.extend(chars.next().map(|(_, c)| c)),
                    _ => phrase.push(c),
                }
            }
            if !closed {
                return Err(error(OPTION, at, "the phrase starting here has no closing '\"'"));
            }
            phrase
        } else {
            let mut word = String::new();
            while let Some(&(_, c)) = chars.peek() {
                if c.is_whitespace() || c == '"' {
                    break;
                }
                word.push(c);
                chars.next();
            }
            match word.as_str() {
                "AND" => continue,
                "NOT" => {
                    negate = true;
                    continue;
                }
                "OR" => return Err(error(OPTION, at, "'OR' is not supported in $search")),
                _ => word,
            }
        };
        let trimmed = word.trim();
        if trimmed.is_empty() {
            return Err(error(OPTION, at, "an empty phrase"));
        }
        terms.push(SearchTerm { text: trimmed.to_owned(), negated: negate });
        negate = false;
    }
    if negate {
        return Err(error(OPTION, text.len(), "'NOT' must come before a term"));
    }
    if terms.is_empty() {
        return Err(error(OPTION, 0, "the search is empty"));
    }
    Ok(terms)
}

fn count(option: &'static str, text: &str) -> Result<u64, ParseError> {
    let trimmed = text.trim();
    if trimmed.starts_with('-') && trimmed[1..].bytes().all(|b| b.is_ascii_digit()) && trimmed.len() > 1 {
        return Err(error(option, 0, format!("must not be negative, got {trimmed}")));
    }
    if trimmed.is_empty() || !trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return Err(error(
            option,
            0,
            format!("must be a whole number, not '{}'", trimmed.chars().take(40).collect::<String>()),
        ));
    }
    trimmed.parse().map_err(|_| error(option, 0, format!("{trimmed} is too large")))
}

/// `$top`: a non-negative whole number.
pub fn parse_top(text: &str) -> Result<u64, ParseError> {
    count("$top", text)
}

/// `$skip`: a non-negative whole number.
pub fn parse_skip(text: &str) -> Result<u64, ParseError> {
    count("$skip", text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orderby_keys_and_directions() {
        let keys = parse_orderby("severity desc, lastActivityDateTime,id asc").unwrap();
        assert_eq!(keys.len(), 3);
        assert!(keys[0].descending && !keys[1].descending && !keys[2].descending);
        assert_eq!(keys[1].path.segments, vec!["lastActivityDateTime".to_owned()]);
        assert!(parse_orderby("severity down").unwrap_err().message.contains("'asc' or 'desc'"));
        assert!(parse_orderby("severity,").is_err());
        assert!(parse_orderby("").is_err());
    }

    #[test]
    fn select_and_expand() {
        assert_eq!(parse_select("id, displayName").unwrap().unwrap().len(), 2);
        assert_eq!(parse_select("*").unwrap(), None);
        assert_eq!(parse_expand("alerts").unwrap()[0].segments, vec!["alerts".to_owned()]);
        assert!(parse_expand("alerts($top=1)").unwrap_err().message.contains("not supported"));
    }

    #[test]
    fn search_terms() {
        let terms = parse_search(r#"ransom "finance laptop" NOT test"#).unwrap();
        assert_eq!(terms.len(), 3);
        assert_eq!(terms[1].text, "finance laptop");
        assert!(terms[2].negated);
        assert!(parse_search("\"open").is_err());
        assert!(parse_search("a OR b").is_err());
        assert!(parse_search("   ").is_err());
    }

    #[test]
    fn counts() {
        assert_eq!(parse_top("10").unwrap(), 10);
        assert!(parse_top("-1").unwrap_err().message.contains("negative"));
        assert!(parse_skip("ten").is_err());
        assert!(parse_skip("99999999999999999999999").is_err());
    }
}
