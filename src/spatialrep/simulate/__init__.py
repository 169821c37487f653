"""Scene simulation: receivers (HRTF heads, arrays), rooms, sources, noise and rendering."""
