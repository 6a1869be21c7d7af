//! Text analysis (placeholder, being written).
