"""slmkit.tasks"""
