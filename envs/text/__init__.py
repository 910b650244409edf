"""Text games: Sokoban, FrozenLake, Taxi and TextWorld."""
