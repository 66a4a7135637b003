//! [`Capability`] and the bit set [`Capabilities`]: what a model can do and what a task
//! requires. A leaf module.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Something a model can do that a task may require.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Capability {
    /// Function / tool calling.
    Tools,
    /// Image input.
    Vision,
    /// Guaranteed JSON output (JSON mode or structured outputs).
    JsonMode,
    /// Token streaming.
    Streaming,
    /// Extended reasoning ("thinking") tokens.
    Reasoning,
}

impl Capability {
    /// Every capability, in a fixed order.
    pub const ALL: [Capability; 5] = [
        Capability::Tools,
        Capability::Vision,
        Capability::JsonMode,
        Capability::Streaming,
        Capability::Reasoning,
    ];

    const fn bit(self) -> u8 {
        1 << (self as u8)
    }

    /// The name used in catalogs and explanations (`"json_mode"`).
    pub const fn name(self) -> &'static str {
        match self {
            Capability::Tools => "tools",
            Capability::Vision => "vision",
            Capability::JsonMode => "json_mode",
            Capability::Streaming => "streaming",
            Capability::Reasoning => "reasoning",
        }
    }
}

/// A set of [`Capability`] values, stored as a bit set (copying it never allocates).
///
/// Serialized as a list of names: `["tools", "vision"]`.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Capabilities(u8);

impl Capabilities {
    /// The empty set.
    pub const NONE: Capabilities = Capabilities(0);

    /// A set of the given capabilities.
    pub const fn of(caps: &[Capability]) -> Self {
        let mut bits = 0;
        let mut i = 0;
        while i < caps.len() {
            bits |= caps[i].bit();
            i += 1;
        }
        Capabilities(bits)
    }

    /// This set with `cap` added.
    pub const fn with(self, cap: Capability) -> Self {
        Capabilities(self.0 | cap.bit())
    }

    /// Whether `cap` is in the set.
    pub const fn contains(self, cap: Capability) -> bool {
        self.0 & cap.bit() != 0
    }

    /// Whether every capability of `other` is in this set.
    pub const fn contains_all(self, other: Capabilities) -> bool {
        self.0 & other.0 == other.0
    }

    /// The capabilities of `required` that this set lacks.
    pub const fn missing_from(self, required: Capabilities) -> Capabilities {
        Capabilities(required.0 & !self.0)
    }

    /// The capabilities in both sets.
    pub(crate) const fn intersection(self, other: Capabilities) -> Capabilities {
        Capabilities(self.0 & other.0)
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The capabilities in the set, in [`Capability::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Capability> {
        Capability::ALL.into_iter().filter(move |c| self.contains(*c))
    }
}

impl FromIterator<Capability> for Capabilities {
    fn from_iter<I: IntoIterator<Item = Capability>>(iter: I) -> Self {
        iter.into_iter().fold(Capabilities::NONE, Capabilities::with)
    }
}

impl fmt::Debug for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter().map(Capability::name)).finish()
    }
}

impl fmt::Display for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(c.name())?;
        }
        Ok(())
    }
}

impl Serialize for Capabilities {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Capabilities {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let caps = Vec::<Capability>::deserialize(d)?;
        Ok(caps.into_iter().collect())
    }
}
