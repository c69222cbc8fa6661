"""Patrol (巡查): grid workers' check-ins with position and time; later patrol routes and coverage."""
