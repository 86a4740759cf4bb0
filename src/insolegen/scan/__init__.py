"""Foot scans: read a scan, find its sole and pose, fit the plantar surface (total-contact inserts)."""
