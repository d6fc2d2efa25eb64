//! A small provider SDK that knows nothing of Engram: schemas, values, diagnostics, attribute
//! paths, plan modifiers, validators, the provider/resource/data-source traits and timeouts.
//! The plugin layer translates between these and the wire protocol.

pub mod diag;
pub mod path;
pub mod plan;
pub mod plan_modifiers;
pub mod provider;
pub mod schema;
pub mod timeouts;
pub mod types;
pub mod validators;
pub mod value;

pub use diag::{Diagnostic, Diagnostics, Severity};
pub use path::AttributePath;
pub use provider::{
    ApplyRequest, Context, DataSource, EphemeralResource, PlanRequest, Provider, Resource,
};
pub use schema::{Attribute, Block, Nesting, Schema};
pub use types::Type;
pub use value::Value;
