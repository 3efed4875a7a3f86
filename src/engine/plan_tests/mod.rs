//! Planning without an emulator: stacks loaded from text, observations built in memory,
//! and the rules that decide what happens to live resources checked one by one —
//! ownership, adoption, conflicts, replacement, orphans, the deletion guards, and values
//! that are unknown until apply.

use super::{Observed, PlanRequest, plan};
use crate::kinds::{self, Stack};
use crate::plan::{Action, Deletion, Plan, ResourceChange};
use crate::tags::{RESOURCE_TAG, STACK_TAG};
use crate::values::DeploymentContext;
use serde_json::json;
use std::path::Path;

const TABLE: &str = "  messages:
    type: dynamodb_table
    name: messages-${env}
    attributes: { pk: S, sk: S }
    key: { hash: pk, range: sk }
    stream: NEW_IMAGE
";

/// The default stack's shape: table, role with a policy on the table, endpoint, function
/// in the VPC, and the trigger from the table's stream to the function.
const SYSTEM: &str = "  messages:
    type: dynamodb_table
    name: messages-${env}
    attributes: { pk: S, sk: S }
    key: { hash: pk, range: sk }
    stream: NEW_IMAGE
  role:
    type: iam_role
    name: processor-${env}
    policies:
      table:
        - actions: [dynamodb:Query, dynamodb:PutItem]
          resources: [\"${messages.arn}\"]
      logs:
        - actions: [logs:PutLogEvents]
          resources: [\"arn:${aws.partition}:logs:${aws.region}:${aws.account_id}:log-group:*\"]
  endpoint:
    type: vpc_gateway_endpoint
    service: dynamodb
  processor:
    type: lambda_function
    name: processor-${env}
    code: tests/fixtures/tiny-function
    role: ${role.arn}
    environment:
      TABLE_NAME: ${messages.name}
    vpc: {}
  trigger:
    type: event_source_mapping
    function: ${processor.name}
    source: ${messages.stream_arn}
    starting_position: LATEST
";

/// `resources` (YAML under `resources:`) as stack `shop`, environment `dev`.
fn stack(resources: &str) -> Stack {
    let text = format!(
        "stack: shop\nenvironments:\n  dev: {{ region: us-east-1 }}\n  prod: {{ region: us-east-1 }}\nresources:\n{resources}"
    );
    let base = Path::new(env!("CARGO_MANIFEST_DIR"));
    kinds::load_text("stack.yaml", &text, "dev", base).unwrap_or_else(|e| panic!("{}", e.render()))
}

fn context() -> DeploymentContext {
    DeploymentContext {
        account_id: "123456789012".into(),
        region: "us-east-1".into(),
        partition: "aws".into(),
    }
}

/// An account where none of the stack's resources exist.
fn nothing(stack: &Stack) -> Observed {
    let mut observed = Observed {
        context: Some(context()),
        ..Observed::default()
    };
    for node in &stack.nodes {
        node.assume_missing(&mut observed.resources);
    }
    observed
}

/// An account where every resource is as an apply by `owner` (`<stack>/<env>`) left it.
fn applied_by(stack: &Stack, owner: &str) -> Observed {
    let mut observed = nothing(stack);
    let mut inputs = crate::spec::template::Inputs::new(observed.context.as_ref());
    for node in &stack.nodes {
        let attributes = node.assume_applied(&mut observed.resources, owner, &inputs);
        inputs.insert(node.name(), attributes);
    }
    observed
}

fn applied(stack: &Stack) -> Observed {
    applied_by(stack, &stack.owner())
}

fn apply(stack: &Stack, observed: &Observed) -> Plan {
    plan(stack, observed, &PlanRequest::apply())
}

fn destroy(stack: &Stack, observed: &Observed) -> Plan {
    plan(stack, observed, &PlanRequest::destroy())
}

fn actions(plan: &Plan) -> Vec<(String, Action)> {
    plan.resource_changes
        .iter()
        .map(|rc| (rc.name.clone(), rc.action))
        .collect()
}

fn change<'p>(plan: &'p Plan, name: &str) -> &'p ResourceChange {
    plan.get(name)
        .unwrap_or_else(|| panic!("no change for {name} in {:#?}", plan.resource_changes))
}

/// Removes every ownership tag of `name`'s live resource (made by hand).
fn untag(observed: &mut Observed, name: &str) {
    let tags = observed.resources.live_mut(name).unwrap().tags_mut();
    tags.retain(|k, _| !k.starts_with("cruddur-infra") && k != "managed-by");
}

fn owned_by(observed: &mut Observed, name: &str, owner: &str) {
    let tags = observed.resources.live_mut(name).unwrap().tags_mut();
    tags.insert(STACK_TAG.into(), owner.into());
}

/// Takes `name` out of the stack's observation and keeps it as an orphan.
fn orphan(from: Observed, name: &str, into: &mut Observed) {
    let mut from = from;
    let live: Box<dyn crate::kinds::Live> = if let Some(o) = from.resources.tables.remove(name) {
        Box::new(o.live.unwrap())
    } else if let Some(o) = from.resources.roles.remove(name) {
        Box::new(o.live.unwrap())
    } else if let Some(o) = from.resources.functions.remove(name) {
        Box::new(o.live.unwrap())
    } else if let Some(o) = from.resources.triggers.remove(name) {
        Box::new(o.live.unwrap())
    } else {
        panic!("{name} was not observed")
    };
    into.orphans.push(live);
}

fn plan_with(stack: &Stack, observed: &Observed, f: impl FnOnce(&mut PlanRequest)) -> Plan {
    let mut request = PlanRequest::apply();
    f(&mut request);
    plan(stack, observed, &request)
}

fn plan_fn(stack: &Stack, observed: &Observed, request: &PlanRequest) -> Plan {
    plan(stack, observed, request)
}

mod changes;
mod golden;
mod guards;
mod ownership;
mod values;
