"""Composition shared by the three entry points: which adapters a settings object asks for, and the
resources one process opens and closes."""
