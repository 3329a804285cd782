//! The two status vocabularies. Both are open sets: the upstream may answer values that are not
//! published, and those must read as "not ready yet", never as a parse failure.

/// Defines an open status enum: known variants matched case-insensitively (with optional
/// alternative spellings), everything else kept in `Other`.
macro_rules! open_status {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $canonical:literal $(| $alias:literal)* ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this crate does not know, kept as the upstream spelled it (trimmed).
            Other(String),
        }

        impl $name {
            /// Reads a status: known spellings in any case, anything else as `Other`.
            pub fn parse(raw: &str) -> Self {
                let raw = raw.trim();
                $(
                    if raw.eq_ignore_ascii_case($canonical)
                        $(|| raw.eq_ignore_ascii_case($alias))*
                    {
                        return $name::$variant;
                    }
                )+
                $name::Other(raw.to_owned())
            }

            /// The documented spelling of a known value, the upstream's spelling of `Other`.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $canonical, )+
                    $name::Other(raw) => raw,
                }
            }

            /// `true` for a value this crate does not know.
            pub fn is_unknown(&self) -> bool {
                matches!(self, $name::Other(_))
            }
        }

        impl From<&str> for $name {
            fn from(raw: &str) -> Self {
                $name::parse(raw)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

open_status! {
    /// The `Status` of an account report instance. Only `Ready` and `Expired` are published;
    /// the in-progress literal is not, so any other value means "not ready yet".
    InstanceStatus {
        /// `Ready`: the output can be downloaded.
        Ready => "Ready",
        /// `Expired`: the output is gone.
        Expired => "Expired",
    }
}

impl InstanceStatus {
    /// `true` when the output can be downloaded.
    pub fn is_ready(&self) -> bool {
        matches!(self, InstanceStatus::Ready)
    }

    /// `true` when the output is gone for good.
    pub fn is_expired(&self) -> bool {
        matches!(self, InstanceStatus::Expired)
    }

    /// `true` when the instance is still being assembled (any value but ready or expired).
    pub fn is_pending(&self) -> bool {
        !self.is_ready() && !self.is_expired()
    }
}

open_status! {
    /// The `ReportStatus` of a billing report. `COMPLETED` and `COMPLETE` both mean the archive
    /// is built; any unknown value means "not ready yet".
    BillingStatus {
        /// `RECEIVED`: the request was accepted.
        Received => "RECEIVED",
        /// `PROCESSING`: the archive is being built.
        Processing => "PROCESSING",
        /// `COMPLETED` (or `COMPLETE`): the archive can be downloaded.
        Completed => "COMPLETED" | "COMPLETE",
    }
}

impl BillingStatus {
    /// `true` when the archive can be downloaded.
    pub fn is_completed(&self) -> bool {
        matches!(self, BillingStatus::Completed)
    }

    /// `true` while the archive is not ready (received, processing or an unknown value).
    pub fn is_pending(&self) -> bool {
        !self.is_completed()
    }
}

#[cfg(test)]
mod tests {
    use super::{BillingStatus, InstanceStatus};

    #[test]
    fn instance_status_is_case_insensitive_and_open() {
        assert_eq!(InstanceStatus::parse("Ready"), InstanceStatus::Ready);
        assert_eq!(InstanceStatus::parse(" READY "), InstanceStatus::Ready);
        assert_eq!(InstanceStatus::parse("expired"), InstanceStatus::Expired);
        let other = InstanceStatus::parse("Processing");
        assert_eq!(other, InstanceStatus::Other("Processing".to_owned()));
        assert_eq!(other.as_str(), "Processing");
        assert!(other.is_pending() && other.is_unknown());
        assert!(InstanceStatus::Ready.is_ready() && !InstanceStatus::Ready.is_pending());
        assert!(InstanceStatus::Expired.is_expired());
        assert_eq!(InstanceStatus::parse("ready").to_string(), "Ready");
    }

    #[test]
    fn billing_status_accepts_both_spellings_of_complete() {
        assert_eq!(BillingStatus::parse("COMPLETED"), BillingStatus::Completed);
        assert_eq!(BillingStatus::parse("COMPLETE"), BillingStatus::Completed);
        assert_eq!(BillingStatus::parse("complete"), BillingStatus::Completed);
        assert_eq!(BillingStatus::Completed.as_str(), "COMPLETED");
        assert_eq!(BillingStatus::parse("received"), BillingStatus::Received);
        assert_eq!(
            BillingStatus::parse("Processing"),
            BillingStatus::Processing
        );
        let other = BillingStatus::parse("QUEUED");
        assert_eq!(other, BillingStatus::Other("QUEUED".to_owned()));
        assert!(other.is_pending() && !other.is_completed());
        assert!(BillingStatus::Completed.is_completed());
    }
}
