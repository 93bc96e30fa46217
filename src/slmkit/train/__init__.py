"""slmkit.train"""
