"""The stream and the bronze tables the stream job writes: observation, catch-up, bronze checks."""
