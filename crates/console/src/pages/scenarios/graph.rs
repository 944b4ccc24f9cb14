//! The scenario's graph, laid out for an inline SVG (no script): the applications on the
//! left, the scenario in the middle, the runtimes on the right, an edge from each
//! application to the scenario and from the scenario to each runtime, so that every path
//! from an application to a runtime is one that the scenario opens. Pure layout: the
//! template draws it, and escapes every name.

/// Width of the drawing.
pub(crate) const WIDTH: u32 = 760;
const ROW: u32 = 30;
const BOX_WIDTH: u32 = 240;
const BOX_HEIGHT: u32 = 22;
const MARGIN: u32 = 10;
const LEFT_X: u32 = MARGIN;
const RIGHT_X: u32 = WIDTH - MARGIN - BOX_WIDTH;
const HUB_WIDTH: u32 = 200;
const HUB_X: u32 = (WIDTH - HUB_WIDTH) / 2;
/// Names longer than this are shortened in the drawing (the full name is the node's title).
const LABEL_CHARS: usize = 30;

/// One box: an application, a runtime or the scenario.
pub(crate) struct Node {
    pub(crate) href: String,
    /// The full name (the node's tooltip).
    pub(crate) title: String,
    /// The name as drawn.
    pub(crate) label: String,
    pub(crate) x: u32,
    pub(crate) y: u32,
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) text_x: u32,
    pub(crate) text_y: u32,
}

/// One line between two boxes.
pub(crate) struct Edge {
    pub(crate) x1: u32,
    pub(crate) y1: u32,
    pub(crate) x2: u32,
    pub(crate) y2: u32,
}

pub(crate) struct Graph {
    pub(crate) height: u32,
    pub(crate) hub: Node,
    pub(crate) applications: Vec<Node>,
    pub(crate) runtimes: Vec<Node>,
    pub(crate) edges: Vec<Edge>,
}

/// An object to draw: its name and where its node links to.
pub(crate) struct Member {
    pub(crate) name: String,
    pub(crate) href: String,
}

fn shortened(name: &str) -> String {
    if name.chars().count() <= LABEL_CHARS {
        name.to_owned()
    } else {
        let mut short: String = name.chars().take(LABEL_CHARS - 1).collect();
        short.push('…');
        short
    }
}

fn node(member: &Member, x: u32, y: u32, width: u32) -> Node {
    Node {
        href: member.href.clone(),
        title: member.name.clone(),
        label: shortened(&member.name),
        x,
        y,
        width,
        height: BOX_HEIGHT,
        text_x: x + 8,
        text_y: y + 16,
    }
}

fn column(members: &[Member], x: u32) -> Vec<Node> {
    (0u32..)
        .zip(members)
        .map(|(row, member)| node(member, x, MARGIN + row * ROW, BOX_WIDTH))
        .collect()
}

/// Lays out the scenario `hub` with `applications` and `runtimes`.
pub(crate) fn layout(hub: &Member, applications: &[Member], runtimes: &[Member]) -> Graph {
    let rows = u32::try_from(applications.len().max(runtimes.len()).max(1)).unwrap_or(u32::MAX);
    let height = rows.saturating_mul(ROW).saturating_add(2 * MARGIN);
    let hub_y = (height - BOX_HEIGHT) / 2;
    let hub = node(hub, HUB_X, hub_y, HUB_WIDTH);
    let applications = column(applications, LEFT_X);
    let runtimes = column(runtimes, RIGHT_X);
    let middle = |n: &Node| n.y + BOX_HEIGHT / 2;
    let mut edges = Vec::with_capacity(applications.len() + runtimes.len());
    for a in &applications {
        edges.push(Edge {
            x1: a.x + a.width,
            y1: middle(a),
            x2: hub.x,
            y2: middle(&hub),
        });
    }
    for r in &runtimes {
        edges.push(Edge {
            x1: hub.x + hub.width,
            y1: middle(&hub),
            x2: r.x,
            y2: middle(r),
        });
    }
    Graph {
        height,
        hub,
        applications,
        runtimes,
        edges,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(names: &[&str]) -> Vec<Member> {
        names
            .iter()
            .map(|n| Member {
                name: (*n).to_owned(),
                href: format!("/x/{n}"),
            })
            .collect()
    }

    #[test]
    fn every_application_reaches_every_runtime_through_the_hub() {
        let hub = Member {
            name: "DEFAULT".into(),
            href: "/console/scenarios/DEFAULT".into(),
        };
        let graph = layout(&hub, &members(&["a", "b", "c"]), &members(&["r"]));
        assert_eq!(graph.applications.len(), 3);
        assert_eq!(graph.runtimes.len(), 1);
        assert_eq!(graph.edges.len(), 4);
        assert_eq!(graph.height, 3 * ROW + 2 * MARGIN);
        // Edges end on the boxes they join.
        assert!(graph.edges[..3].iter().all(|e| e.x2 == graph.hub.x));
        assert_eq!(graph.edges[3].x2, graph.runtimes[0].x);
        // Nothing is drawn outside the picture.
        for n in graph.applications.iter().chain(&graph.runtimes) {
            assert!(n.x + n.width <= WIDTH && n.y + n.height <= graph.height);
        }
        let empty = layout(&hub, &[], &[]);
        assert!(empty.edges.is_empty());
        assert!(empty.hub.y + empty.hub.height <= empty.height);
    }

    #[test]
    fn long_names_are_shortened_but_kept_as_titles() {
        let long = "x".repeat(50);
        let n = node(
            &Member {
                name: long.clone(),
                href: String::new(),
            },
            0,
            0,
            BOX_WIDTH,
        );
        assert_eq!(n.title, long);
        assert_eq!(n.label.chars().count(), LABEL_CHARS);
        assert!(n.label.ends_with('…'));
    }
}
