"""The big screen (一屏全观): panels and map layers as descriptions, their queries, the live stream, the page."""
