// Anchor for the plugins' shared precompiled header; it compiles to nothing.
