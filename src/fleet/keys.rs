//! Key names: `<prefix>:{<hash tag>}:<name>`, so that every key of one store shares a Redis
//! Cluster slot (Redis hashes only what is between the first `{` and the next `}`).

use std::fmt;

use crate::Error;
use crate::runtime::BudgetScope;

/// A validated `<prefix>:{<tag>}` key prefix.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct KeyPrefix(String);

impl fmt::Debug for KeyPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl KeyPrefix {
    /// # Errors
    /// [`Error::InvalidValue`] for an empty prefix or tag, or one holding `{`, `}` or a
    /// newline (they would move the slot or break the scripts' records).
    pub(crate) fn new(prefix: &str, tag: &str) -> Result<Self, Error> {
        for (field, value) in [("key_prefix", prefix), ("hash_tag", tag)] {
            if value.is_empty() || value.contains(['{', '}', '\n']) || value.len() > 256 {
                return Err(Error::InvalidValue {
                    field: format!("fleet.{field}"),
                    value: value.chars().take(64).collect(),
                    expected: "1 to 256 bytes without `{`, `}` or a newline",
                });
            }
        }
        Ok(Self(format!("{prefix}:{{{tag}}}")))
    }

    /// `<prefix>:{<tag>}:<name>`.
    pub(crate) fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.0)
    }

    /// The key of a budget scope: `...:scope:g`, `...:scope:t:<tenant>`, `...:scope:k:<key id>`,
    /// with `%` and newlines in names escaped (`%25`, `%0A`).
    pub(crate) fn scope(&self, scope: &BudgetScope) -> String {
        let (kind, name) = match scope {
            BudgetScope::Global => return self.key("scope:g"),
            BudgetScope::Tenant(t) => ("t", t),
            BudgetScope::Key(k) => ("k", k),
        };
        let mut key = self.key("scope:");
        key.push_str(kind);
        key.push(':');
        escape_into(&mut key, name);
        key
    }
}

/// Appends `name` with `%` and newlines escaped (`%25`, `%0A`), so it never holds a newline.
pub(crate) fn escape_into(out: &mut String, name: &str) {
    for c in name.chars() {
        match c {
            '%' => out.push_str("%25"),
            '\n' => out.push_str("%0A"),
            c => out.push(c),
        }
    }
}

/// The inverse of [`escape_into`]; `None` for a `%` not followed by `25` or `0A`.
#[cfg(any(feature = "learn", test))]
pub(crate) fn unescape(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let code = rest.get(i + 1..i + 3)?;
        out.push(match code {
            "25" => '%',
            "0A" => '\n',
            _ => return None,
        });
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_the_tag_and_names_are_escaped() {
        let p = KeyPrefix::new("app", "budget").unwrap();
        assert_eq!(p.key("leases"), "app:{budget}:leases");
        assert_eq!(p.scope(&BudgetScope::Global), "app:{budget}:scope:g");
        assert_eq!(
            p.scope(&BudgetScope::tenant("a%b\nc{d}")),
            "app:{budget}:scope:t:a%25b%0Ac{d}"
        );
        assert_ne!(
            p.scope(&BudgetScope::tenant("x")),
            p.scope(&BudgetScope::key("x"))
        );
        for name in ["", "plain", "a%b\nc%0A%25", "%", "é\n\n"] {
            let mut e = String::new();
            escape_into(&mut e, name);
            assert!(!e.contains('\n'));
            assert_eq!(unescape(&e).as_deref(), Some(name));
        }
        assert_eq!(unescape("%zz"), None);
        assert_eq!(unescape("50%"), None);
        for (prefix, tag) in [("", "t"), ("a{", "t"), ("a", ""), ("a", "b}"), ("a\n", "t")] {
            assert!(KeyPrefix::new(prefix, tag).is_err(), "{prefix:?} {tag:?}");
        }
    }
}
