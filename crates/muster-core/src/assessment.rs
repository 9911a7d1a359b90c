//! Classification and determination, which only exist as a pair that fits (Graph reference 1.4).

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};

use crate::enums::{AlertClassification as C, AlertDetermination as D, GraphEnum};

/// The determinations that fit a classification, in the order the Manage-incident pane lists them.
pub fn determinations_for(classification: C) -> &'static [D] {
    match classification {
        C::TruePositive => &[
            D::MultiStagedAttack,
            D::MaliciousUserActivity,
            D::CompromisedAccount,
            D::Malware,
            D::Phishing,
            D::UnwantedSoftware,
            D::Other,
        ],
        C::InformationalExpectedActivity => {
            &[D::SecurityTesting, D::LineOfBusinessApplication, D::ConfirmedActivity, D::Other]
        }
        C::FalsePositive => &[D::NotMalicious, D::NotEnoughDataToValidate, D::Other],
        C::Unknown | C::UnknownFutureValue => &[],
    }
}

/// `apt` and `securityPersonnel` were retired from the picker in 2022 but older alerts still carry
/// them: they are read (under the classification they belonged to), never offered.
fn is_legacy_pair(c: C, d: D) -> bool {
    matches!((c, d), (C::TruePositive, D::Apt) | (C::InformationalExpectedActivity, D::SecurityPersonnel))
}

/// A determination that does not fit its classification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssessmentError {
    #[error("determination '{determination}' does not fit classification '{classification}'; valid determinations: {}", valid_list(*classification))]
    Mismatch { classification: C, determination: D },
    #[error("determination '{0}' needs a classification")]
    NoClassification(D),
}

fn valid_list(c: C) -> String {
    let mut names: Vec<&str> = determinations_for(c).iter().map(|d| d.as_str()).collect();
    names.push("unknown");
    names.join(", ")
}

/// A classification with a determination that fits it. `unknown` (or no) determination fits any
/// classification: it means "not decided yet".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawAssessment", into = "RawAssessment")]
pub struct Assessment {
    classification: Option<C>,
    determination: Option<D>,
}

impl Assessment {
    pub fn new(classification: Option<C>, determination: Option<D>) -> Result<Self, AssessmentError> {
        match (classification, determination) {
            (_, None | Some(D::Unknown)) => {}
            (None, Some(d)) => return Err(AssessmentError::NoClassification(d)),
            (Some(c), Some(d)) if !determinations_for(c).contains(&d) && !is_legacy_pair(c, d) => {
                return Err(AssessmentError::Mismatch { classification: c, determination: d })
            }
            _ => {}
        }
        Ok(Self { classification, determination })
    }

    pub fn classification(&self) -> Option<C> {
        self.classification
    }

    pub fn determination(&self) -> Option<D> {
        self.determination
    }
}

/// The wire form, checked on the way in.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAssessment {
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "classification")]
    classification: Option<C>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "determination")]
    determination: Option<D>,
}

// The pair is flattened into alerts and incidents, where serde loses track of the path: the errors
// name their property themselves.
fn classification<'de, De: Deserializer<'de>>(d: De) -> Result<Option<C>, De::Error> {
    named_member(d, "classification")
}

fn determination<'de, De: Deserializer<'de>>(d: De) -> Result<Option<D>, De::Error> {
    named_member(d, "determination")
}

fn named_member<'de, De: Deserializer<'de>, T: Deserialize<'de>>(d: De, name: &str) -> Result<Option<T>, De::Error> {
    Option::<T>::deserialize(d).map_err(|e| De::Error::custom(crate::json::nested_message(name, e)))
}

impl TryFrom<RawAssessment> for Assessment {
    type Error = AssessmentError;

    fn try_from(raw: RawAssessment) -> Result<Self, Self::Error> {
        Assessment::new(raw.classification, raw.determination)
    }
}

impl From<Assessment> for RawAssessment {
    fn from(a: Assessment) -> Self {
        Self { classification: a.classification, determination: a.determination }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitting_pairs_are_accepted() {
        for c in [C::TruePositive, C::FalsePositive, C::InformationalExpectedActivity] {
            for d in determinations_for(c) {
                assert!(Assessment::new(Some(c), Some(*d)).is_ok(), "{c} {d}");
            }
            assert!(Assessment::new(Some(c), Some(D::Unknown)).is_ok());
        }
        assert!(Assessment::new(None, None).is_ok());
    }

    #[test]
    fn mismatches_list_the_valid_determinations() {
        let err = Assessment::new(Some(C::FalsePositive), Some(D::Malware)).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("notMalicious") && text.contains("notEnoughDataToValidate"), "{text}");
        assert!(Assessment::new(Some(C::Unknown), Some(D::Phishing)).is_err());
        assert!(Assessment::new(None, Some(D::Phishing)).is_err());
    }

    #[test]
    fn wire_form_is_validated() {
        let ok: Assessment =
            serde_json::from_str(r#"{"classification":"TruePositive","determination":"compromisedUser"}"#).unwrap();
        assert_eq!(ok.determination(), Some(D::CompromisedAccount));
        assert!(serde_json::from_str::<Assessment>(r#"{"classification":"falsePositive","determination":"malware"}"#)
            .is_err());
    }
}
