//! Form bodies with repeated fields (checkboxes, tag chips), which `axum::Form` cannot read into
//! lists.

/// The fields of an `application/x-www-form-urlencoded` body, in order.
pub(crate) struct Fields(Vec<(String, String)>);

impl Fields {
    pub(crate) fn parse(body: &[u8]) -> Self {
        Self(form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }

    /// The first value of `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub(crate) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_fields_are_all_kept() {
        let fields = Fields::parse(b"alert=a1&alert=a%202&comment=hi+there");
        assert_eq!(fields.all("alert").collect::<Vec<_>>(), ["a1", "a 2"]);
        assert_eq!(fields.get("comment"), Some("hi there"));
        assert!(!fields.has("target"));
    }
}
