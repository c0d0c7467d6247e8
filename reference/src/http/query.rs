//! A request's query parameters, every value kept: a name may repeat
//! (`?tag=a&tag=b`), which a map would silently reduce to one value.

/// The decoded `name=value` pairs of a query string, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Query {
        Query(form_urlencoded::parse(raw.unwrap_or("").as_bytes()).into_owned().collect())
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&String> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// Every value of `name`, in the order sent.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Query;

    #[test]
    fn repeated_names_keep_every_value() {
        let q = Query::parse(Some("tag=a&n=2&tag=b%2Bc&tag="));
        assert_eq!(q.all("tag").collect::<Vec<_>>(), ["a", "b+c", ""]);
        assert_eq!(q.get("tag").map(String::as_str), Some("a"));
        assert_eq!(q.get("n").map(String::as_str), Some("2"));
        assert_eq!(q.get("last"), None);
        assert_eq!(Query::parse(None), Query::default());
    }
}
