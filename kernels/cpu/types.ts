/**
 * Types shared by the CPU references.
 *
 * @module
 */

/** Any float array a reference writes (float64 for finite differences, float32 to compare). */
export type FloatArray = Float32Array | Float64Array;
