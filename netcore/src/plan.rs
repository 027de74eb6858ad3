//! The plan: what should exist for a node's pod network, compared with what is observed,
//! as the list of steps that closes the difference. Pure functions, no I/O: the kernel
//! is read by `podnet::observe_*` and changed by `podnet::apply_*`. What should exist is
//! stated in [`crate::model`]'s plain data; nothing here depends on the apply side.
//!
//! Steps come in dependency order (a veth before its attachment, an interface before its
//! address), and a step that the observation shows done is left out, so planning against
//! a correct node yields nothing and a node that drifted gets exactly its repairs.

use std::net::Ipv4Addr;

use crate::model::{NodeNetwork, PodNetwork};

/// What is observed of the node's side.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedNode {
    pub bridge: Option<ObservedLink>,
    pub forwarding: bool,
    /// Whether the main table routes the pod subnet out of the bridge (the route the
    /// kernel adds with the gateway address, which can be deleted on its own).
    pub subnet_route: bool,
}

/// A link as observed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedLink {
    pub index: u32,
    pub up: bool,
    pub mtu: u32,
    pub mac: Option<[u8; 6]>,
    pub controller: Option<u32>,
    pub hairpin: bool,
    /// As a bridge port: whether it forwards (the kernel enables a port asynchronously).
    pub forwarding: bool,
    pub addresses: Vec<(Ipv4Addr, u8)>,
}

/// What is observed of one pod's wiring.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedPod {
    pub netns: bool,
    /// The host end of the veth, in the node's namespace.
    pub veth: Option<ObservedLink>,
    /// `eth0` inside the pod's namespace.
    pub eth0: Option<ObservedLink>,
    pub lo_up: bool,
    /// The gateway of the pod's default route, if it has one.
    pub default_gateway: Option<Ipv4Addr>,
}

impl ObservedPod {
    /// A pod of which nothing exists yet.
    pub fn absent() -> ObservedPod {
        ObservedPod::default()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeStep {
    CreateBridge,
    BridgeUp,
    AddBridgeAddress,
    /// The pod subnet's route out of the bridge, put back when it went without the address.
    AddSubnetRoute,
    EnableForwarding,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PodStep {
    CreateNetns,
    /// Create the veth with its peer straight in the pod's namespace.
    CreateVeth,
    /// Attach the host end to the bridge and bring it up.
    AttachVeth,
    Hairpin,
    /// Set both veth ends to the pod's MTU.
    SetMtu,
    LoopbackUp,
    AddAddress,
    Eth0Up,
    /// Replace whatever default route the pod has by one via its gateway.
    DefaultRoute,
}

pub fn plan_node(want: &NodeNetwork, seen: &ObservedNode) -> Vec<NodeStep> {
    let mut steps = Vec::new();
    match &seen.bridge {
        None => steps.extend([NodeStep::CreateBridge, NodeStep::BridgeUp, NodeStep::AddBridgeAddress]),
        Some(b) => {
            if !b.up {
                steps.push(NodeStep::BridgeUp);
            }
            if !b.addresses.contains(&(want.gateway, want.prefix)) {
                // Adding the address adds its subnet's route too.
                steps.push(NodeStep::AddBridgeAddress);
            } else if !seen.subnet_route {
                steps.push(NodeStep::AddSubnetRoute);
            }
        }
    }
    if !seen.forwarding {
        steps.push(NodeStep::EnableForwarding);
    }
    steps
}

/// The steps that wire `want` to the bridge `bridge`, given what `seen` shows.
pub fn plan_pod(want: &PodNetwork, bridge: u32, seen: &ObservedPod) -> Vec<PodStep> {
    let mut steps = Vec::new();
    if !seen.netns {
        // A new namespace holds nothing: every step, in order. Both veth ends come up
        // early, so the kernel's asynchronous enabling of the bridge port overlaps the rest.
        return vec![
            PodStep::CreateNetns,
            PodStep::CreateVeth,
            PodStep::AttachVeth,
            PodStep::Eth0Up,
            PodStep::Hairpin,
            PodStep::LoopbackUp,
            PodStep::AddAddress,
            PodStep::DefaultRoute,
        ];
    }
    match (&seen.veth, &seen.eth0) {
        // A veth pair lives or dies whole: one end missing means recreate it.
        (Some(v), Some(_)) => {
            let attach = v.controller != Some(bridge) || !v.up;
            if attach {
                steps.push(PodStep::AttachVeth);
            }
            // Hairpin is a setting of the bridge port: (re)attaching makes a new port.
            if attach || !v.hairpin {
                steps.push(PodStep::Hairpin);
            }
        }
        _ => steps.extend([PodStep::CreateVeth, PodStep::AttachVeth, PodStep::Hairpin]),
    }
    if let (Some(mtu), Some(v), Some(e)) = (want.mtu, &seen.veth, &seen.eth0) {
        if v.mtu != mtu || e.mtu != mtu {
            steps.push(PodStep::SetMtu);
        }
    }
    if !seen.lo_up {
        steps.push(PodStep::LoopbackUp);
    }
    let eth0_fresh = seen.eth0.is_none() || seen.veth.is_none();
    let eth0 = seen.eth0.clone().unwrap_or_default();
    if eth0_fresh || !eth0.addresses.contains(&(want.ip, want.prefix)) {
        steps.push(PodStep::AddAddress);
    }
    if eth0_fresh || !eth0.up {
        steps.push(PodStep::Eth0Up);
    }
    // Routes through eth0 vanish with it or when it goes down.
    if eth0_fresh || !eth0.up || seen.default_gateway != Some(want.gateway) {
        steps.push(PodStep::DefaultRoute);
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> NodeNetwork {
        NodeNetwork { bridge: "fnbr0".into(), gateway: Ipv4Addr::new(10, 244, 1, 1), prefix: 24 }
    }

    fn pod() -> PodNetwork {
        PodNetwork {
            netns: "flatnet-p1-default-web".into(),
            host_veth: "fn0123456789a".into(),
            ip: Ipv4Addr::new(10, 244, 1, 5),
            prefix: 24,
            gateway: Ipv4Addr::new(10, 244, 1, 1),
            mtu: None,
        }
    }

    fn wired() -> ObservedPod {
        ObservedPod {
            netns: true,
            veth: Some(ObservedLink { index: 7, up: true, controller: Some(3), hairpin: true, ..Default::default() }),
            eth0: Some(ObservedLink {
                index: 2,
                up: true,
                controller: None,
                hairpin: false,
                addresses: vec![(Ipv4Addr::new(10, 244, 1, 5), 24)],
                ..Default::default()
            }),
            lo_up: true,
            default_gateway: Some(Ipv4Addr::new(10, 244, 1, 1)),
        }
    }

    #[test]
    fn a_correct_pod_needs_nothing() {
        assert_eq!(plan_pod(&pod(), 3, &wired()), vec![]);
    }

    #[test]
    fn a_new_pod_needs_everything_in_order() {
        let steps = plan_pod(&pod(), 3, &ObservedPod::absent());
        assert_eq!(steps.first(), Some(&PodStep::CreateNetns));
        assert_eq!(steps.last(), Some(&PodStep::DefaultRoute));
        assert_eq!(steps.len(), 8);
    }

    #[test]
    fn a_lost_default_route_is_replaced() {
        let mut s = wired();
        s.default_gateway = None;
        assert_eq!(plan_pod(&pod(), 3, &s), vec![PodStep::DefaultRoute]);
    }

    #[test]
    fn a_detached_veth_is_attached_again_with_hairpin() {
        let mut s = wired();
        s.veth.as_mut().unwrap().controller = None;
        assert_eq!(plan_pod(&pod(), 3, &s), vec![PodStep::AttachVeth, PodStep::Hairpin]);
    }

    #[test]
    fn hairpin_turned_off_is_turned_on() {
        let mut s = wired();
        s.veth.as_mut().unwrap().hairpin = false;
        assert_eq!(plan_pod(&pod(), 3, &s), vec![PodStep::Hairpin]);
    }

    #[test]
    fn eth0_set_down_comes_up_with_its_route() {
        // eth0 set down by hand: up again, and its routes came down with it.
        let mut s = wired();
        s.eth0.as_mut().unwrap().up = false;
        s.default_gateway = None;
        assert_eq!(plan_pod(&pod(), 3, &s), vec![PodStep::Eth0Up, PodStep::DefaultRoute]);
    }

    #[test]
    fn a_deleted_veth_is_recreated_and_the_inside_configured_again() {
        let mut s = wired();
        s.veth = None;
        s.eth0 = None;
        s.default_gateway = None;
        assert_eq!(
            plan_pod(&pod(), 3, &s),
            vec![
                PodStep::CreateVeth,
                PodStep::AttachVeth,
                PodStep::Hairpin,
                PodStep::AddAddress,
                PodStep::Eth0Up,
                PodStep::DefaultRoute
            ]
        );
    }

    #[test]
    fn a_missing_address_is_added_beside_a_wrong_one() {
        // A wrong address is added beside (the right one is what matters to the plan).
        let mut s = wired();
        s.eth0.as_mut().unwrap().addresses = vec![(Ipv4Addr::new(10, 244, 1, 9), 24)];
        assert_eq!(plan_pod(&pod(), 3, &s), vec![PodStep::AddAddress]);
    }

    #[test]
    fn a_changed_mtu_is_set_on_both_ends() {
        // The backend's MTU changed (or was set by hand): both ends get it again.
        let mut vx = pod();
        vx.mtu = Some(1450);
        let mut s = wired();
        s.veth.as_mut().unwrap().mtu = 1450;
        s.eth0.as_mut().unwrap().mtu = 1500;
        assert_eq!(plan_pod(&vx, 3, &s), vec![PodStep::SetMtu]);
        s.eth0.as_mut().unwrap().mtu = 1450;
        assert_eq!(plan_pod(&vx, 3, &s), vec![]);
    }

    #[test]
    fn a_recreated_bridge_gets_the_veth_attached_again() {
        // Another bridge index (the bridge was recreated): attach again.
        assert_eq!(plan_pod(&pod(), 4, &wired()), vec![PodStep::AttachVeth, PodStep::Hairpin]);
    }

    fn prepared_node() -> ObservedNode {
        ObservedNode {
            bridge: Some(ObservedLink {
                index: 3,
                up: true,
                addresses: vec![(Ipv4Addr::new(10, 244, 1, 1), 24)],
                ..Default::default()
            }),
            forwarding: true,
            subnet_route: true,
        }
    }

    #[test]
    fn a_deleted_subnet_route_is_added_again() {
        let mut seen = prepared_node();
        seen.subnet_route = false;
        assert_eq!(plan_node(&node(), &seen), vec![NodeStep::AddSubnetRoute]);
    }

    #[test]
    fn a_new_node_needs_its_bridge_address_and_forwarding() {
        assert_eq!(
            plan_node(&node(), &ObservedNode::default()),
            vec![NodeStep::CreateBridge, NodeStep::BridgeUp, NodeStep::AddBridgeAddress, NodeStep::EnableForwarding]
        );
    }

    #[test]
    fn a_prepared_node_needs_nothing() {
        assert_eq!(plan_node(&node(), &prepared_node()), vec![]);
    }

    #[test]
    fn a_bridge_set_down_and_forwarding_off_are_repaired() {
        let mut down = prepared_node();
        down.bridge.as_mut().unwrap().up = false;
        down.forwarding = false;
        assert_eq!(plan_node(&node(), &down), vec![NodeStep::BridgeUp, NodeStep::EnableForwarding]);
    }
}
