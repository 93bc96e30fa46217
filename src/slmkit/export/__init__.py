"""slmkit.export"""
