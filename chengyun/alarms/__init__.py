"""Alarms (告警): rules turn readings into alarm transitions; alarms live on two axes and may open cases."""
