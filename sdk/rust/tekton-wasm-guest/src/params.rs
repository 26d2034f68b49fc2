//! Typed access to a request's params, with the Go SDK's reasons and
//! messages (`hostabi/guest/params.go`).

use std::collections::BTreeMap;

use crate::{Error, ParamValue, Request};

/// Reason of the error when a required param is absent.
pub const REASON_MISSING_PARAM: &str = "MissingParam";
/// Reason of the error when a param has the wrong type.
pub const REASON_INVALID_PARAM: &str = "InvalidParam";
/// Reason of the error when the run passes params the plugin does not take.
pub const REASON_UNEXPECTED_PARAMS: &str = "UnexpectedParams";

/// The params of a request. Its errors carry the reasons above, ready to
/// be returned by a handler with `?`; a plugin that wants its own reasons
/// checks [`ParamSet::has`] first or replaces the error.
#[derive(Debug, Clone, Copy)]
pub struct ParamSet<'a> {
    req: &'a Request,
}

impl<'a> ParamSet<'a> {
    pub(crate) fn new(req: &'a Request) -> Self {
        ParamSet { req }
    }

    /// Whether the run passes the param `name`.
    pub fn has(&self, name: &str) -> bool {
        self.req.param(name).is_some()
    }

    /// The string param `name`, which must be present.
    pub fn string(&self, name: &str) -> Result<&'a str, Error> {
        self.required(name, self.optional_string(name))
    }

    /// The string param `name`, or `None` when it is absent.
    pub fn optional_string(&self, name: &str) -> Result<Option<&'a str>, Error> {
        self.get(name, "a string", |v| match v {
            ParamValue::String(s) => Some(s.as_str()),
            _ => None,
        })
    }

    /// The array param `name`, which must be present.
    pub fn array(&self, name: &str) -> Result<&'a [String], Error> {
        self.required(name, self.optional_array(name))
    }

    /// The array param `name`, or `None` when it is absent.
    pub fn optional_array(&self, name: &str) -> Result<Option<&'a [String]>, Error> {
        self.get(name, "an array", |v| match v {
            ParamValue::Array(a) => Some(a.as_slice()),
            _ => None,
        })
    }

    /// The object param `name`, which must be present.
    pub fn object(&self, name: &str) -> Result<&'a BTreeMap<String, String>, Error> {
        self.required(name, self.optional_object(name))
    }

    /// The object param `name`, or `None` when it is absent.
    pub fn optional_object(&self, name: &str) -> Result<Option<&'a BTreeMap<String, String>>, Error> {
        self.get(name, "an object", |v| match v {
            ParamValue::Object(o) => Some(o),
            _ => None,
        })
    }

    /// Fails with [`REASON_UNEXPECTED_PARAMS`], naming them in order, if
    /// the run passes any param not in `names`:
    /// `unexpected params: [colour size]; this plugin takes [name]`.
    pub fn only(&self, names: &[&str]) -> Result<(), Error> {
        let extra: Vec<&str> = self.req.params.iter().map(|p| p.name.as_str()).filter(|n| !names.contains(n)).collect();
        if extra.is_empty() {
            return Ok(());
        }
        Err(Error::new(
            REASON_UNEXPECTED_PARAMS,
            format!("unexpected params: [{}]; this plugin takes [{}]", extra.join(" "), names.join(" ")),
        ))
    }

    fn required<T>(&self, name: &str, v: Result<Option<T>, Error>) -> Result<T, Error> {
        v?.ok_or_else(|| Error::new(REASON_MISSING_PARAM, format!("param {:?} is required", name)))
    }

    /// The value of `name` when it is of the type `want` names (what
    /// `pick` extracts); `None` when absent.
    fn get<T>(&self, name: &str, want: &str, pick: impl Fn(&'a ParamValue) -> Option<T>) -> Result<Option<T>, Error> {
        let p = match self.req.param(name) {
            Some(p) => p,
            None => return Ok(None),
        };
        pick(&p.value).map(Some).ok_or_else(|| {
            let got = match p.value {
                ParamValue::String(_) => "a string",
                ParamValue::Array(_) => "an array",
                ParamValue::Object(_) => "an object",
            };
            Error::new(REASON_INVALID_PARAM, format!("param {:?} must be {}, not {}", name, want, got))
        })
    }
}
