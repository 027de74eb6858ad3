//! Label selectors, as `?labelSelector=` takes them: `app=web`, `tier!=db`, `env in (a,b)`,
//! `env notin (c)`, `canary` (key exists), `!canary` (key absent), joined by commas (AND).

use std::collections::BTreeMap;

use crate::validation::{validate_label_key, validate_label_value};

#[derive(Clone, Debug, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

/// A parsed label selector. The empty selector matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// A selector that requires every `key=value` of `labels` (a service's selector).
    pub fn from_map(labels: &BTreeMap<String, String>) -> Self {
        LabelSelector { requirements: labels.iter().map(|(k, v)| Requirement::Equals(k.clone(), v.clone())).collect() }
    }

    /// The selector a policy carries (`matchLabels` and `matchExpressions`). Errors name the
    /// offending part, relative to the selector (`matchExpressions[0].operator`).
    pub fn from_api(api: &crate::policy::LabelSelector) -> Result<Self, (String, String)> {
        let mut requirements: Vec<Requirement> =
            api.match_labels.iter().map(|(k, v)| Requirement::Equals(k.clone(), v.clone())).collect();
        for (i, e) in api.match_expressions.iter().enumerate() {
            let field = |f: &str| format!("matchExpressions[{i}].{f}");
            let (key, values) = (e.key.clone(), e.values.clone());
            let requirement = match (e.operator.as_str(), values.is_empty()) {
                ("In", false) => Requirement::In(key, values),
                ("NotIn", false) => Requirement::NotIn(key, values),
                ("Exists", true) => Requirement::Exists(key),
                ("DoesNotExist", true) => Requirement::DoesNotExist(key),
                ("In" | "NotIn", true) => {
                    return Err((field("values"), format!("required (non-empty) when the operator is {}", e.operator)))
                }
                ("Exists" | "DoesNotExist", false) => {
                    return Err((field("values"), format!("must be empty when the operator is {}", e.operator)))
                }
                (other, _) => {
                    return Err((field("operator"), format!("{other:?} is not one of In, NotIn, Exists, DoesNotExist")))
                }
            };
            requirements.push(requirement);
        }
        Ok(LabelSelector { requirements })
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Parse the query syntax. Errors name the offending requirement.
    pub fn parse(input: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        for part in split_top_level(input)? {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            requirements.push(parse_requirement(part)?);
        }
        Ok(LabelSelector { requirements })
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| match r {
            Requirement::Equals(k, v) => labels.get(k) == Some(v),
            Requirement::NotEquals(k, v) => labels.get(k) != Some(v),
            Requirement::In(k, vs) => labels.get(k).is_some_and(|l| vs.contains(l)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|l| !vs.contains(l)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::DoesNotExist(k) => !labels.contains_key(k),
        })
    }
}

/// Split on commas that are not inside `( … )`.
fn split_top_level(input: &str) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in input.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err(format!("unbalanced ')' in selector {input:?}"));
                }
            }
            ',' if depth == 0 => {
                parts.push(&input[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(format!("unbalanced '(' in selector {input:?}"));
    }
    parts.push(&input[start..]);
    Ok(parts)
}

fn key(k: &str) -> Result<String, String> {
    let k = k.trim();
    validate_label_key(k).map_err(|e| format!("selector key {k:?}: {e}"))?;
    Ok(k.to_string())
}

fn value(v: &str) -> Result<String, String> {
    let v = v.trim();
    validate_label_value(v).map_err(|e| format!("selector value {v:?}: {e}"))?;
    Ok(v.to_string())
}

fn set(rest: &str, part: &str) -> Result<Vec<String>, String> {
    let inner = rest
        .trim()
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| format!("selector {part:?}: expected a set like (a,b)"))?;
    inner.split(',').map(value).collect()
}

fn parse_requirement(part: &str) -> Result<Requirement, String> {
    if let Some(k) = part.strip_prefix('!') {
        return Ok(Requirement::DoesNotExist(key(k)?));
    }
    if let Some((k, v)) = part.split_once("!=") {
        return Ok(Requirement::NotEquals(key(k)?, value(v)?));
    }
    if let Some((k, v)) = part.split_once("==") {
        return Ok(Requirement::Equals(key(k)?, value(v)?));
    }
    if let Some((k, v)) = part.split_once('=') {
        return Ok(Requirement::Equals(key(k)?, value(v)?));
    }
    let words: Vec<&str> = part.splitn(2, char::is_whitespace).collect();
    if words.len() == 2 {
        let rest = words[1].trim_start();
        if let Some(r) = rest.strip_prefix("notin") {
            return Ok(Requirement::NotIn(key(words[0])?, set(r, part)?));
        }
        if let Some(r) = rest.strip_prefix("in") {
            return Ok(Requirement::In(key(words[0])?, set(r, part)?));
        }
        return Err(format!("selector {part:?}: expected =, !=, in or notin"));
    }
    Ok(Requirement::Exists(key(part)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn equality_and_sets() {
        let l = labels(&[("app", "web"), ("tier", "front")]);
        let yes = [
            "",
            "app=web",
            "app==web",
            "app=web,tier=front",
            "tier!=db",
            "app in (web, api)",
            "env notin (prod)",
            "app",
            "!env",
            "example.com/x notin (a)",
        ];
        for s in yes {
            assert!(LabelSelector::parse(s).unwrap().matches(&l), "{s} should match");
        }
        let no = ["app=api", "app!=web", "app in (api)", "tier notin (front)", "env", "!app"];
        for s in no {
            assert!(!LabelSelector::parse(s).unwrap().matches(&l), "{s} should not match");
        }
    }

    #[test]
    fn rejects_malformed() {
        for s in ["app in (web", "app)", "-bad=x", "app=has space", "app in web", "app ~ x"] {
            assert!(LabelSelector::parse(s).is_err(), "{s} should be rejected");
        }
    }

    #[test]
    fn from_api_has_every_operator() {
        use crate::policy::{LabelSelector as Api, LabelSelectorRequirement as Req};
        let req = |key: &str, operator: &str, values: &[&str]| Req {
            key: key.into(),
            operator: operator.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        };
        let api = Api {
            match_labels: labels(&[("app", "web")]),
            match_expressions: vec![
                req("tier", "In", &["front", "back"]),
                req("env", "NotIn", &["prod"]),
                req("team", "Exists", &[]),
                req("canary", "DoesNotExist", &[]),
            ],
        };
        let sel = LabelSelector::from_api(&api).unwrap();
        assert!(sel.matches(&labels(&[("app", "web"), ("tier", "front"), ("team", "x")])));
        assert!(!sel.matches(&labels(&[("app", "web"), ("tier", "db"), ("team", "x")])));
        assert!(!sel.matches(&labels(&[("app", "web"), ("tier", "front"), ("team", "x"), ("env", "prod")])));
        assert!(!sel.matches(&labels(&[("app", "web"), ("tier", "front")])));
        assert!(!sel.matches(&labels(&[("app", "web"), ("tier", "front"), ("team", "x"), ("canary", "")])));
        assert!(LabelSelector::from_api(&Api::default()).unwrap().matches(&labels(&[])));
        let bad = Api { match_expressions: vec![req("a", "Equals", &["b"])], ..Default::default() };
        assert_eq!(LabelSelector::from_api(&bad).unwrap_err().0, "matchExpressions[0].operator");
        let bad = Api { match_expressions: vec![req("a", "In", &[])], ..Default::default() };
        assert_eq!(LabelSelector::from_api(&bad).unwrap_err().0, "matchExpressions[0].values");
    }

    #[test]
    fn from_map_requires_all() {
        let sel = LabelSelector::from_map(&labels(&[("app", "web"), ("tier", "front")]));
        assert!(sel.matches(&labels(&[("app", "web"), ("tier", "front"), ("x", "y")])));
        assert!(!sel.matches(&labels(&[("app", "web")])));
    }
}
