//! CVSS vector strings: which grammar a vector follows, and the CVSS 3.x
//! base score.
//!
//! `advisory::parse_cvss` only checks the shape of a vector (`metric:value`
//! pairs after a version prefix). Exports need more: OSV and the FIRST
//! schemas that CSAF references accept only the metrics and values each CVSS
//! version defines, and CSAF wants the base score spelled out. A vector that
//! does not follow its version's grammar exactly gets no score here, and the
//! exports leave the score out rather than publish something a validator
//! would refuse.

use serde_json::{Map, Value, json};

/// Which CVSS 3 minor version a vector names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Minor {
    V30,
    V31,
}

crate::names::named_enum! {
    /// The version as a vector's prefix and the exports write it.
    pub(crate) fn as_str for Minor, "CVSS 3 version" {
        V30 => "3.0",
        V31 => "3.1",
    }
}

/// A CVSS 3.0 or 3.1 vector whose every metric is known and well formed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CvssV3 {
    pub(crate) minor: Minor,
    pub(crate) vector: String,
    /// The eight base metric values, one letter each, in [`BASE_V3`] order.
    base: [char; 8],
}

/// The base metrics of CVSS 3.x with their allowed values, in the order
/// the specification lists them.
const BASE_V3: [(&str, &str); 8] = [
    ("AV", "NALP"),
    ("AC", "LH"),
    ("PR", "NLH"),
    ("UI", "NR"),
    ("S", "UC"),
    ("C", "NLH"),
    ("I", "NLH"),
    ("A", "NLH"),
];

/// The temporal and environmental metrics of CVSS 3.x. They do not change
/// the base score, but a vector may carry them.
const OTHER_V3: [(&str, &str); 14] = [
    ("E", "XUPFH"),
    ("RL", "XOTWU"),
    ("RC", "XURC"),
    ("CR", "XLMH"),
    ("IR", "XLMH"),
    ("AR", "XLMH"),
    ("MAV", "XNALP"),
    ("MAC", "XLH"),
    ("MPR", "XNLH"),
    ("MUI", "XNR"),
    ("MS", "XUC"),
    ("MC", "XNLH"),
    ("MI", "XNLH"),
    ("MA", "XNLH"),
];

impl CvssV3 {
    /// Parses a `CVSS:3.0/…` or `CVSS:3.1/…` vector. Metrics may come in
    /// any order, but each at most once, each with a value its metric
    /// allows, and all eight base metrics must be there.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let (minor, rest) = if let Some(rest) = text.strip_prefix("CVSS:3.1/") {
            (Minor::V31, rest)
        } else {
            (Minor::V30, text.strip_prefix("CVSS:3.0/")?)
        };
        let mut base = [None; 8];
        let mut others = [false; OTHER_V3.len()];
        for pair in rest.split('/') {
            let (metric, value) = pair.split_once(':')?;
            let value = single_letter(value)?;
            if let Some(index) = BASE_V3.iter().position(|(name, _)| *name == metric) {
                if base[index].is_some() || !BASE_V3[index].1.contains(value) {
                    return None;
                }
                base[index] = Some(value);
            } else {
                let index = OTHER_V3.iter().position(|(name, _)| *name == metric)?;
                if others[index] || !OTHER_V3[index].1.contains(value) {
                    return None;
                }
                others[index] = true;
            }
        }
        let mut letters = ['N'; 8];
        for (letter, value) in letters.iter_mut().zip(base) {
            *letter = value?;
        }
        Some(Self {
            minor,
            vector: text.to_owned(),
            base: letters,
        })
    }

    fn metric(&self, index: usize) -> char {
        self.base[index]
    }

    fn scope_changed(&self) -> bool {
        self.metric(4) == 'C'
    }

    /// The base score, computed as section 7.1 of the CVSS 3.1
    /// specification says (3.0 uses the same equations).
    pub(crate) fn base_score(&self) -> f64 {
        let changed = self.scope_changed();
        let attack_vector: f64 = match self.metric(0) {
            'N' => 0.85,
            'A' => 0.62,
            'L' => 0.55,
            _ => 0.2,
        };
        let attack_complexity = if self.metric(1) == 'L' { 0.77 } else { 0.44 };
        let privileges = match (self.metric(2), changed) {
            ('N', _) => 0.85,
            ('L', false) => 0.62,
            ('L', true) => 0.68,
            (_, false) => 0.27,
            (_, true) => 0.5,
        };
        let user_interaction = if self.metric(3) == 'N' { 0.85 } else { 0.62 };
        let impact_of = |letter: char| match letter {
            'H' => 0.56,
            'L' => 0.22,
            _ => 0.0,
        };
        let iss: f64 = 1.0
            - (1.0 - impact_of(self.metric(5)))
                * (1.0 - impact_of(self.metric(6)))
                * (1.0 - impact_of(self.metric(7)));
        let impact = if changed {
            7.52 * (iss - 0.029) - 3.25 * (iss - 0.02).powi(15)
        } else {
            6.42 * iss
        };
        let exploitability =
            8.22 * attack_vector * attack_complexity * privileges * user_interaction;
        if impact <= 0.0 {
            0.0
        } else if changed {
            round_up((1.08 * (impact + exploitability)).min(10.0))
        } else {
            round_up((impact + exploitability).min(10.0))
        }
    }

    /// The CSAF `cvss_v3` object: the fields the FIRST schema requires and
    /// the base metrics spelled out, which CSAF's consistency test (6.1.10)
    /// compares with the vector.
    pub(crate) fn csaf_object(&self) -> Value {
        let score = self.base_score();
        let mut object = Map::new();
        object.insert("version".to_owned(), json!(self.minor.as_str()));
        object.insert("vectorString".to_owned(), json!(self.vector));
        for (index, field) in CSAF_FIELDS.iter().enumerate() {
            let name = value_name(index, self.metric(index));
            object.insert((*field).to_owned(), json!(name));
        }
        object.insert("baseScore".to_owned(), json!(score));
        object.insert("baseSeverity".to_owned(), json!(severity_name(score)));
        Value::Object(object)
    }
}

fn single_letter(value: &str) -> Option<char> {
    let mut chars = value.chars();
    let letter = chars.next()?;
    chars.next().is_none().then_some(letter)
}

/// The names the FIRST schemas give the base metrics, in [`BASE_V3`] order.
const CSAF_FIELDS: [&str; 8] = [
    "attackVector",
    "attackComplexity",
    "privilegesRequired",
    "userInteraction",
    "scope",
    "confidentialityImpact",
    "integrityImpact",
    "availabilityImpact",
];

/// The FIRST schemas' name for the value `letter` of base metric `index`.
fn value_name(index: usize, letter: char) -> &'static str {
    match (index, letter) {
        (0, 'N') => "NETWORK",
        (0, 'A') => "ADJACENT_NETWORK",
        (0, 'L') => "LOCAL",
        (0, _) => "PHYSICAL",
        (1, 'L') => "LOW",
        (1, _) => "HIGH",
        (3, 'N') => "NONE",
        (3, _) => "REQUIRED",
        (4, 'U') => "UNCHANGED",
        (4, _) => "CHANGED",
        // Privileges required and the three impacts share their names.
        (_, 'H') => "HIGH",
        (_, 'L') => "LOW",
        _ => "NONE",
    }
}

/// The qualitative rating of a CVSS 3.x score (specification section 5).
pub(crate) fn severity_name(score: f64) -> &'static str {
    if score <= 0.0 {
        "NONE"
    } else if score < 4.0 {
        "LOW"
    } else if score < 7.0 {
        "MEDIUM"
    } else if score < 9.0 {
        "HIGH"
    } else {
        "CRITICAL"
    }
}

/// `Roundup` from appendix A of the CVSS 3.1 specification: the smallest
/// number with one decimal that is not below `value`, computed on integers
/// so that floating-point noise (4.000000000000001) does not push a score
/// up by 0.1.
fn round_up(value: f64) -> f64 {
    // Scores are at most 10, so the product always fits in an i64.
    let scaled = (value * 100_000.0).round() as i64;
    if scaled % 10_000 == 0 {
        scaled as f64 / 100_000.0
    } else {
        (scaled / 10_000 + 1) as f64 / 10.0
    }
}

/// The CVSS 4.0 metrics in the order the specification requires them in a
/// vector, with their allowed values and whether they must be present.
const METRICS_V4: [(&str, &[&str], bool); 32] = [
    ("AV", &["N", "A", "L", "P"], true),
    ("AC", &["L", "H"], true),
    ("AT", &["N", "P"], true),
    ("PR", &["N", "L", "H"], true),
    ("UI", &["N", "P", "A"], true),
    ("VC", &["H", "L", "N"], true),
    ("VI", &["H", "L", "N"], true),
    ("VA", &["H", "L", "N"], true),
    ("SC", &["H", "L", "N"], true),
    ("SI", &["H", "L", "N"], true),
    ("SA", &["H", "L", "N"], true),
    ("E", &["X", "A", "P", "U"], false),
    ("CR", &["X", "H", "M", "L"], false),
    ("IR", &["X", "H", "M", "L"], false),
    ("AR", &["X", "H", "M", "L"], false),
    ("MAV", &["X", "N", "A", "L", "P"], false),
    ("MAC", &["X", "L", "H"], false),
    ("MAT", &["X", "N", "P"], false),
    ("MPR", &["X", "N", "L", "H"], false),
    ("MUI", &["X", "N", "P", "A"], false),
    ("MVC", &["X", "N", "L", "H"], false),
    ("MVI", &["X", "N", "L", "H"], false),
    ("MVA", &["X", "N", "L", "H"], false),
    ("MSC", &["X", "N", "L", "H"], false),
    ("MSI", &["X", "N", "L", "H", "S"], false),
    ("MSA", &["X", "N", "L", "H", "S"], false),
    ("S", &["X", "N", "P"], false),
    ("AU", &["X", "N", "Y"], false),
    ("R", &["X", "A", "U", "I"], false),
    ("V", &["X", "D", "C"], false),
    ("RE", &["X", "L", "M", "H"], false),
    ("U", &["X", "Clear", "Green", "Amber", "Red"], false),
];

/// Whether `text` is a CVSS 4.0 vector as the specification writes them:
/// the eleven base metrics in order, then any optional metrics in order,
/// each at most once.
pub(crate) fn is_v4(text: &str) -> bool {
    let Some(rest) = text.strip_prefix("CVSS:4.0/") else {
        return false;
    };
    let mut metrics = METRICS_V4.iter();
    for pair in rest.split('/') {
        let Some((name, value)) = pair.split_once(':') else {
            return false;
        };
        // Skip optional metrics the vector leaves out; stop at the first
        // required one, which must be this one.
        let found = loop {
            match metrics.next() {
                Some((metric, values, _)) if *metric == name => break Some(values),
                Some((_, _, false)) => continue,
                _ => break None,
            }
        };
        match found {
            Some(values) if values.contains(&value) => {}
            _ => return false,
        }
    }
    metrics.all(|(_, _, required)| !required)
}
