//! Splits a query option into tokens, each with its byte offset, so the parser never looks at
//! characters and every error can point at where it happened.

use chrono::{DateTime, FixedOffset, NaiveDate};

use crate::ParseError;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Token {
    LParen,
    RParen,
    Comma,
    Slash,
    Colon,
    Star,
    /// A name: a property, a keyword, a function, a lambda variable, `$count`, or a qualified
    /// `namespace.name`.
    Ident(String),
    Str(String),
    /// `prefix'body'`: an enum literal or a typed one such as `duration'P1D'`.
    Typed {
        prefix: String,
        body: String,
    },
    Int(i64),
    Decimal(f64),
    DateTime(DateTime<FixedOffset>),
    Date(NaiveDate),
    Guid(String),
}

impl Token {
    /// How the token reads in a message.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::LParen => "'('".into(),
            Self::RParen => "')'".into(),
            Self::Comma => "','".into(),
            Self::Slash => "'/'".into(),
            Self::Colon => "':'".into(),
            Self::Star => "'*'".into(),
            Self::Ident(name) => format!("'{name}'"),
            Self::Str(text) => format!("the string '{text}'"),
            Self::Typed { prefix, body } => format!("the literal {prefix}'{body}'"),
            Self::Int(n) => format!("the number {n}"),
            Self::Decimal(n) => format!("the number {n}"),
            Self::DateTime(t) => format!("the date and time {}", t.to_rfc3339()),
            Self::Date(d) => format!("the date {d}"),
            Self::Guid(g) => format!("the GUID {g}"),
        }
    }
}

/// A token and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Spanned {
    pub(crate) token: Token,
    pub(crate) at: usize,
}

pub(crate) fn tokenize(option: &'static str, text: &str) -> Result<Vec<Spanned>, ParseError> {
    let mut lexer = Lexer { option, text, bytes: text.as_bytes(), pos: 0 };
    let mut out = Vec::new();
    while let Some(token) = lexer.next()? {
        out.push(token);
    }
    Ok(out)
}

struct Lexer<'a> {
    option: &'static str,
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b'$'
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl Lexer<'_> {
    fn error(&self, at: usize, message: impl Into<String>) -> ParseError {
        ParseError { option: self.option, position: at, message: message.into() }
    }

    fn peek(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.pos + ahead).copied()
    }

    fn next(&mut self) -> Result<Option<Spanned>, ParseError> {
        while self.peek(0).is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
        let at = self.pos;
        let Some(b) = self.peek(0) else { return Ok(None) };
        let single = match b {
            b'(' => Some(Token::LParen),
            b')' => Some(Token::RParen),
            b',' => Some(Token::Comma),
            b'/' => Some(Token::Slash),
            b':' => Some(Token::Colon),
            b'*' => Some(Token::Star),
            _ => None,
        };
        let token = if let Some(token) = single {
            self.pos += 1;
            token
        } else if let Some(guid) = self.guid() {
            guid
        } else if b == b'\'' {
            Token::Str(self.string()?)
        } else if b.is_ascii_digit() || (b == b'-' && self.peek(1).is_some_and(|c| c.is_ascii_digit())) {
            self.number_or_time()?
        } else if is_ident_start(b) {
            self.ident()?
        } else {
            let ch = self.text[at..].chars().next().unwrap_or('?');
            return Err(self.error(at, format!("unexpected character '{ch}'")));
        };
        Ok(Some(Spanned { token, at }))
    }

    /// A quoted string from the current `'`, with `''` standing for one quote.
    fn string(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let rest = &self.text[self.pos..];
            let Some(quote) = rest.find('\'') else {
                return Err(self.error(start, "the string starting here has no closing quote"));
            };
            out.push_str(&rest[..quote]);
            self.pos += quote + 1;
            if self.peek(0) == Some(b'\'') {
                out.push('\'');
                self.pos += 1;
            } else {
                return Ok(out);
            }
        }
    }

    /// An unquoted GUID (8-4-4-4-12 hex digits), when one starts here.
    fn guid(&mut self) -> Option<Token> {
        let candidate = self.text.get(self.pos..self.pos + 36)?;
        let shape_ok = candidate.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        });
        if !shape_ok || self.peek(36).is_some_and(is_ident_char) {
            return None;
        }
        self.pos += 36;
        Some(Token::Guid(candidate.to_ascii_lowercase()))
    }

    fn number_or_time(&mut self) -> Result<Token, ParseError> {
        let start = self.pos;
        // A date is four digits and a dash; a time of day may follow after a `T`.
        let looks_like_date = self
            .text
            .get(start..start + 5)
            .is_some_and(|s| s.as_bytes()[..4].iter().all(u8::is_ascii_digit) && s.as_bytes()[4] == b'-');
        if looks_like_date {
            let len = self.text[start..].bytes().take_while(|b| b.is_ascii_digit() || b"-:.TZz+".contains(b)).count();
            let raw = &self.text[start..start + len];
            self.pos += len;
            if raw.len() == 10 {
                return NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                    .map(Token::Date)
                    .map_err(|_| self.error(start, format!("'{raw}' is not a valid date")));
            }
            return DateTime::parse_from_rfc3339(raw).map(Token::DateTime).map_err(|_| {
                self.error(start, format!("'{raw}' is not a valid DateTimeOffset (expected e.g. 2025-02-07T19:01:26Z)"))
            });
        }
        if self.peek(0) == Some(b'-') {
            self.pos += 1;
        }
        let digits = |lexer: &mut Self| {
            while lexer.peek(0).is_some_and(|b| b.is_ascii_digit()) {
                lexer.pos += 1;
            }
        };
        digits(self);
        let mut decimal = false;
        if self.peek(0) == Some(b'.') && self.peek(1).is_some_and(|b| b.is_ascii_digit()) {
            decimal = true;
            self.pos += 1;
            digits(self);
        }
        if matches!(self.peek(0), Some(b'e' | b'E')) {
            let sign = usize::from(matches!(self.peek(1), Some(b'+' | b'-')));
            if self.peek(1 + sign).is_some_and(|b| b.is_ascii_digit()) {
                decimal = true;
                self.pos += 1 + sign;
                digits(self);
            }
        }
        if self.peek(0).is_some_and(is_ident_char) {
            return Err(self.error(self.pos, "a number runs into a name; add a space"));
        }
        let raw = &self.text[start..self.pos];
        if decimal {
            match raw.parse::<f64>() {
                Ok(n) if n.is_finite() => Ok(Token::Decimal(n)),
                _ => Err(self.error(start, format!("'{raw}' is not a number this server can represent"))),
            }
        } else {
            raw.parse::<i64>().map(Token::Int).map_err(|_| self.error(start, format!("the number {raw} is too large")))
        }
    }

    /// A name, a qualified name (`a.b.c`), or a typed literal (`name'body'`).
    fn ident(&mut self) -> Result<Token, ParseError> {
        let start = self.pos;
        self.pos += 1;
        loop {
            while self.peek(0).is_some_and(is_ident_char) {
                self.pos += 1;
            }
            if self.peek(0) == Some(b'.') && self.peek(1).is_some_and(is_ident_start) {
                self.pos += 1;
            } else {
                break;
            }
        }
        let name = self.text[start..self.pos].to_owned();
        if self.peek(0) == Some(b'\'') {
            let body = self.string()?;
            return Ok(Token::Typed { prefix: name, body });
        }
        Ok(Token::Ident(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Vec<Token> {
        tokenize("$filter", text).unwrap().into_iter().map(|s| s.token).collect()
    }

    #[test]
    fn reads_each_kind_of_token() {
        assert_eq!(
            tokens("status eq 'it''s' and alertCount ge -3"),
            vec![
                Token::Ident("status".into()),
                Token::Ident("eq".into()),
                Token::Str("it's".into()),
                Token::Ident("and".into()),
                Token::Ident("alertCount".into()),
                Token::Ident("ge".into()),
                Token::Int(-3),
            ]
        );
        assert!(matches!(tokens("2025-02-07T19:01:26Z")[0], Token::DateTime(_)));
        assert!(matches!(tokens("2025-02-07")[0], Token::Date(_)));
        assert!(matches!(tokens("1.5e3")[0], Token::Decimal(_)));
        assert_eq!(
            tokens("microsoft.graph.security.alertSeverity'high'"),
            vec![Token::Typed { prefix: "microsoft.graph.security.alertSeverity".into(), body: "high".into() }]
        );
        assert_eq!(
            tokens("0f8fad5b-d9cb-469f-a165-70867728950e"),
            vec![Token::Guid("0f8fad5b-d9cb-469f-a165-70867728950e".into())]
        );
    }

    #[test]
    fn points_at_bad_input() {
        let err = tokenize("$filter", "name eq 'open").unwrap_err();
        assert_eq!(err.position, 8);
        assert!(tokenize("$filter", "a # b").unwrap_err().message.contains('#'));
        assert!(tokenize("$filter", "99999999999999999999").is_err());
        assert!(tokenize("$filter", "2025-13-40").is_err());
    }
}
