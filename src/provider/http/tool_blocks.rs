//! Tool calls in streams that number content blocks (Anthropic's Messages, Bedrock's Converse):
//! a tool call's index is its place among the tool blocks, not its block's index.

use std::collections::HashMap;

use crate::provider::StreamEvent;

/// The tool blocks a stream has started: content block index → tool call index, and the
/// number of calls started.
#[derive(Debug, Default)]
pub(crate) struct ToolBlocks(HashMap<usize, usize>, usize);

impl ToolBlocks {
    /// A tool block starts at content block `block`: the event that opens its call. Every start
    /// opens a new call, even one a server repeats for the same block (its later deltas go to
    /// the newest), so two calls never share an index.
    pub(crate) fn start(&mut self, block: usize, id: String, name: String) -> StreamEvent {
        let index = self.1;
        self.1 += 1;
        self.0.insert(block, index);
        StreamEvent::ToolCallDelta {
            index,
            id: Some(id),
            name: Some(name),
            arguments: String::new(),
        }
    }

    /// More `arguments` for the tool block at `block`; `None` if no tool block started there.
    pub(crate) fn delta(&self, block: usize, arguments: String) -> Option<StreamEvent> {
        let &index = self.0.get(&block)?;
        Some(StreamEvent::ToolCallDelta {
            index,
            id: None,
            name: None,
            arguments,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_numbered_among_tool_blocks_only() {
        let mut t = ToolBlocks::default();
        // block 0 is text; the tool blocks 1 and 3 are calls 0 and 1
        assert!(matches!(
            t.start(1, "a".into(), "f".into()),
            StreamEvent::ToolCallDelta { index: 0, .. }
        ));
        assert!(matches!(
            t.start(3, "b".into(), "g".into()),
            StreamEvent::ToolCallDelta { index: 1, .. }
        ));
        assert_eq!(
            t.delta(3, "{}".into()),
            Some(StreamEvent::ToolCallDelta {
                index: 1,
                id: None,
                name: None,
                arguments: "{}".into()
            })
        );
        assert_eq!(t.delta(0, "{}".into()), None, "block 0 is not a tool block");
    }

    /// Fails on the code before the fix (checked): a start repeated for block 1 numbered the
    /// next block's call 1 again, so two calls were merged into one.
    #[test]
    fn a_repeated_start_never_gives_two_calls_one_index() {
        let mut t = ToolBlocks::default();
        let index = |e: StreamEvent| match e {
            StreamEvent::ToolCallDelta { index, .. } => index,
            other => panic!("{other:?}"),
        };
        let got: Vec<usize> = [(1, "a"), (1, "b"), (3, "c")]
            .into_iter()
            .map(|(block, id)| index(t.start(block, id.into(), "f".into())))
            .collect();
        assert_eq!(got, [0, 1, 2]);
        assert_eq!(t.delta(1, String::new()).map(index), Some(1));
        assert_eq!(t.delta(3, String::new()).map(index), Some(2));
    }
}
