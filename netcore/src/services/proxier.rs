//! The [`Proxier`]: the service ports applied to one namespace's table, the two transports
//! (an `nft -f` script for changes that create or remove chains and sets, an nfnetlink batch
//! for those that only change elements), and the removal of stale UDP conntrack entries.

use std::collections::HashMap;

use crate::monitor::TableDrift;
use crate::netns::Netns;
use crate::nft::model::{Command, Op};
use crate::nft::{self, TABLE};
use crate::nftnl::{self, SetOp};
use crate::Result;

use super::layout::{groups_in, FLATNET};
use super::render::{self, full_tx, render_full, stale_flows, Prepared, Repair, SetElements, Shared};
use super::{ApplyReport, Frontend, ServicePort, StaleFlow, TableConfig};

/// What a [`Proxier::repair`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Repaired {
    /// Nothing deleted was wanted.
    Nothing,
    /// This many elements added again.
    Elements(usize),
    /// Chains, rules and sets put back with a script of this many bytes.
    Script(usize),
    /// The whole table again.
    Full(ApplyReport),
}

/// Keeps flatnet's table in one namespace equal to the desired service ports.
pub struct Proxier {
    ns: Netns,
    config: TableConfig,
    applied: HashMap<String, ServicePort>,
    shared: Shared,
    /// The nfnetlink socket for element changes, opened on first use.
    nl: Option<nftnl::Socket>,
}

impl Proxier {
    pub fn new(ns: Netns, config: TableConfig) -> Proxier {
        Proxier { ns, config, applied: HashMap::new(), shared: Shared::default(), nl: None }
    }

    fn apply_elements(&mut self, ops: &[(Op, SetElements)]) -> Result<()> {
        let ops: Vec<SetOp<'_>> =
            ops.iter().map(|(op, s)| SetOp { op: *op, set: &s.set, elements: &s.elements }).collect();
        if self.nl.is_none() {
            self.nl = Some(nftnl::Socket::open(&self.ns)?);
        }
        let result = self.nl.as_mut().expect("opened above").apply(TABLE, &ops);
        if result.is_err() {
            // A fresh socket next time (its sequence numbers and buffers start clean).
            self.nl = None;
        }
        result
    }

    pub fn netns(&self) -> &Netns {
        &self.ns
    }

    /// Make the table hold exactly `desired`, adopting what is there: one transaction, no
    /// moment without rules. Used at start, after a failed apply, and for a periodic
    /// drift repair.
    pub fn sync_all(&mut self, desired: Vec<ServicePort>) -> Result<ApplyReport> {
        let existing = nft::list_objects(&self.ns)?;
        let desired: HashMap<String, ServicePort> =
            desired.into_iter().map(|sp| (sp.name.clone(), sp.normalize())).collect();
        let (mut tx, mut shared) = full_tx(&self.config, existing.as_ref(), &desired);
        let script;
        let result = if existing.is_none() {
            // A new table: nothing depends on it yet, so its chains and maps go in with nft
            // and its elements, the bulk, straight over nfnetlink (see `nftnl`).
            let elements: Vec<(Op, SetElements)> =
                std::mem::take(&mut tx.add_elements).into_values().map(|s| (Op::Add, s)).collect();
            script = tx.render();
            nft::apply(&self.ns, &script).and_then(|()| self.apply_elements(&elements))
        } else {
            script = tx.render();
            nft::apply(&self.ns, &script)
        };
        // The shared groups the kernel holds afterwards, besides the desired ones.
        let mut kept = existing.clone();
        let result = match (result, existing.is_some()) {
            (Ok(()), _) => Ok(()),
            // A table of another layout (an older flatnet) cannot be adopted in place:
            // replace it, still in one transaction.
            (Err(e), true) => {
                tracing::warn!(error = %e, "adopting the existing nftables table failed; replacing it");
                kept = None;
                let mut script = String::new();
                FLATNET.write(&mut script, Command::AddTable);
                FLATNET.write(&mut script, Command::DeleteTable);
                script.push_str(&render_full(&self.config, None, &desired));
                nft::apply(&self.ns, &script)
            }
            (Err(e), false) => Err(e),
        };
        result?;
        let mut stale = Vec::new();
        for (name, old) in &self.applied {
            stale.extend(stale_flows(Some(old), desired.get(name)));
        }
        for (name, new) in &desired {
            if !self.applied.contains_key(name) {
                stale.extend(stale_flows(None, Some(new)));
            }
        }
        if let Some(objects) = &kept {
            // Shared chains and maps that existed stay declared (and now empty).
            shared.lb_sizes.extend(groups_in(&objects.sets, "lb_slots_"));
            shared.np_sizes.extend(groups_in(&objects.sets, "np_slots_"));
        }
        self.shared = shared;
        let changed = desired.len();
        self.applied = desired;
        Ok(ApplyReport { changed, script_bytes: script.len(), stale })
    }

    /// Put back what `drift` says was deleted under the proxier (read from the kernel's
    /// notifications: [`crate::monitor`]), as little as will do: wanted elements alone over
    /// nfnetlink; deleted chains, rules and sets (with what refers to them) in one script; a
    /// deleted table, or lost notifications, with a full sync of what was applied. What is
    /// not wanted (the echo of the proxier's own deletions) is left alone, so a repair
    /// never feeds back into another.
    pub fn repair(&mut self, drift: &TableDrift) -> Result<Repaired> {
        if drift.table || drift.lost {
            let all = self.applied.values().cloned().collect();
            let report = self.sync_all(all)?;
            return Ok(Repaired::Full(report));
        }
        match render::repair(&self.config, &self.applied, &self.shared, drift) {
            Repair::Nothing => Ok(Repaired::Nothing),
            Repair::Elements(ops) => {
                let n = ops.iter().map(|(_, s)| s.elements.len()).sum();
                self.apply_elements(&ops)?;
                Ok(Repaired::Elements(n))
            }
            Repair::Script(script) => {
                nft::apply(&self.ns, &script)?;
                Ok(Repaired::Script(script.len()))
            }
        }
    }

    /// Apply a batch of changes: `Some(port)` adds or replaces the service port of that
    /// name, `None` removes it. Only the difference is rendered and applied.
    pub fn update(&mut self, changes: Vec<(String, Option<ServicePort>)>) -> Result<ApplyReport> {
        let mut prepared = self.prepare_update(changes);
        match prepared.element_ops.take() {
            Some(ops) => self.apply_elements(&ops)?,
            None if !prepared.script.is_empty() => nft::apply(&self.ns, &prepared.script)?,
            None => {}
        }
        let report = prepared.report.clone();
        self.commit(prepared);
        Ok(report)
    }

    /// The script for a batch of changes, and the state after it (applied by [`commit`]).
    /// Pure: no kernel access.
    ///
    /// [`commit`]: Proxier::commit
    pub fn prepare_update(&self, changes: Vec<(String, Option<ServicePort>)>) -> Prepared {
        render::prepare(&self.applied, &self.shared, changes)
    }

    /// Record a prepared change as applied.
    pub fn commit(&mut self, prepared: Prepared) {
        self.shared = prepared.shared;
        for (name, new) in prepared.next {
            match new {
                Some(sp) => self.applied.insert(name, sp),
                None => self.applied.remove(&name),
            };
        }
    }

    /// Delete the UDP conntrack entries of `flows` (with the `conntrack` tool, inside the
    /// namespace). Returns how many commands failed; each failure is logged.
    pub fn clear_stale_flows(&self, flows: &[StaleFlow]) -> usize {
        let mut failed = 0;
        for flow in flows {
            let mut cmd = std::process::Command::new("conntrack");
            cmd.args(["-D", "-p", "udp"]);
            match flow.frontend {
                Frontend::ClusterIp(ip, port) => {
                    cmd.args(["--orig-dst", &ip.to_string(), "--orig-port-dst", &port.to_string()]);
                }
                Frontend::NodePort(port) => {
                    cmd.args(["--orig-port-dst", &port.to_string()]);
                }
            }
            if let Some(endpoint) = flow.endpoint {
                cmd.args(["--dst-nat", &endpoint.to_string()]);
            }
            match self.ns.output(&mut cmd, b"") {
                // Exit status 1 with "0 flow entries": nothing to delete.
                Ok(out) if out.status.success() || String::from_utf8_lossy(&out.stderr).contains("0 flow entries") => {}
                Ok(out) => {
                    failed += 1;
                    tracing::warn!(?flow, stderr = %String::from_utf8_lossy(&out.stderr).trim(), "conntrack -D failed");
                }
                Err(e) => {
                    failed += 1;
                    tracing::warn!(?flow, error = %e, "conntrack could not run (install the conntrack package)");
                }
            }
        }
        failed
    }
}
