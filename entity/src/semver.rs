//! Entity versions: `major.minor.patch`, `0.0.1` on create, patch + 1 on every update.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SemVer {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl Default for SemVer {
    fn default() -> Self {
        SemVer {
            major: 0,
            minor: 0,
            patch: 1,
        }
    }
}

impl SemVer {
    /// Reads `M`, `M.m` or `M.m.p`; missing parts are zero, as upstream reads them. All zero is invalid.
    pub fn parse(s: &str) -> Option<SemVer> {
        let parts: Vec<&str> = s.split('.').collect();
        if s.is_empty() || parts.len() > 3 {
            return None;
        }
        let mut n = [0u32; 3];
        for (i, p) in parts.iter().enumerate() {
            n[i] = p.parse().ok()?;
        }
        let v = SemVer {
            major: n[0],
            minor: n[1],
            patch: n[2],
        };
        (v != SemVer {
            major: 0,
            minor: 0,
            patch: 0,
        })
        .then_some(v)
    }

    pub fn up_patch(self) -> SemVer {
        SemVer {
            patch: self.patch + 1,
            ..self
        }
    }
}

impl fmt::Display for SemVer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl Serialize for SemVer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SemVer {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        SemVer::parse(&s).ok_or_else(|| serde::de::Error::custom("semantic version malformed"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_bumps_the_patch_number() {
        assert_eq!(
            SemVer::parse("1.2.3").unwrap().up_patch().to_string(),
            "1.2.4"
        );
        assert_eq!(SemVer::default().to_string(), "0.0.1");
    }

    #[test]
    fn short_versions_fill_with_zeros_and_garbage_is_refused() {
        assert_eq!(SemVer::parse("2").unwrap().to_string(), "2.0.0");
        assert!(SemVer::parse("0.0.0").is_none());
        assert!(SemVer::parse("a.b").is_none());
        assert!(SemVer::parse("1.2.3.4").is_none());
    }
}
