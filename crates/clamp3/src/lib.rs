//! CLaMP 3 library.
