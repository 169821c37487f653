"""Directions, positions and receiver geometries (the one coordinate convention of spatialrep)."""

from spatialrep.geometry.arrays import (
    ArraySymmetry,
    MicArray,
    array_symmetries,
    circular_array,
    list_arrays,
    make_array,
    mic_pair,
    tetrahedral_array,
)
from spatialrep.geometry.coordinates import (
    SPEED_OF_SOUND,
    angular_distance,
    azimuth_difference,
    cartesian_to_spherical,
    fibonacci_sphere,
    fold_front_back,
    rotate_yaw,
    spherical_to_cartesian,
    wrap_angle,
)

__all__ = [
    "SPEED_OF_SOUND",
    "ArraySymmetry",
    "MicArray",
    "angular_distance",
    "array_symmetries",
    "azimuth_difference",
    "cartesian_to_spherical",
    "circular_array",
    "fibonacci_sphere",
    "fold_front_back",
    "list_arrays",
    "make_array",
    "mic_pair",
    "rotate_yaw",
    "spherical_to_cartesian",
    "tetrahedral_array",
    "wrap_angle",
]
