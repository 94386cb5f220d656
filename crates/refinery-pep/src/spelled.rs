//! The traits shared by the "spelled" newtypes ([`crate::ProjectName`],
//! [`crate::ProjectVersion`]): a value that keeps the spelling it was given and is
//! compared by a parsed key.

/// For `$ty { spelling: String, $key: $key_ty }` with `$ty::new(impl Into<String>) ->
/// Result<$ty, $err>`: `From<$key_ty>` (the key's own spelling), `Eq`/`Hash`/`Ord` and
/// `PartialEq<$key_ty>` by the key, `Display` and serde as the spelling, `FromStr` and
/// `Deserialize` through `new` (an invalid spelling is the error naming it).
macro_rules! spelled_newtype {
    ($ty:ident, $key:ident: $key_ty:ty, $err:ty) => {
        impl From<$key_ty> for $ty {
            fn from($key: $key_ty) -> Self {
                $ty {
                    spelling: $key.to_string(),
                    $key,
                }
            }
        }

        impl From<&$key_ty> for $ty {
            fn from($key: &$key_ty) -> Self {
                $ty::from($key.clone())
            }
        }

        impl PartialEq for $ty {
            fn eq(&self, other: &Self) -> bool {
                self.$key == other.$key
            }
        }

        impl Eq for $ty {}

        impl PartialEq<$key_ty> for $ty {
            fn eq(&self, other: &$key_ty) -> bool {
                &self.$key == other
            }
        }

        impl std::hash::Hash for $ty {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                self.$key.hash(state);
            }
        }

        impl PartialOrd for $ty {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }

        impl Ord for $ty {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                self.$key.cmp(&other.$key)
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.spelling)
            }
        }

        impl std::str::FromStr for $ty {
            type Err = $err;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $ty::new(s)
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.spelling)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let spelling = String::deserialize(deserializer)?;
                $ty::new(spelling).map_err(serde::de::Error::custom)
            }
        }
    };
}

pub(crate) use spelled_newtype;
