"""The Textual user interface: three panes over the local cache; network work happens in thread workers."""
