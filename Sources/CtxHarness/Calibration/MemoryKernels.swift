import CtxEngine

/// The inner loops of calibration. Checked in the assembly (x86-64-v3): `sum` is four independent
/// 8-wide vaddps chains over 32-byte loads, `fmaChains` is twelve register-resident vfmadd chains
/// (ymm; zmm in an AVX-512 build).
public enum MemoryKernels {
    /// Sum of `count` floats, with four accumulators so the loop is limited by loads, not add latency.
    @inline(never)
    public static func sum(_ p: UnsafePointer<Float>, _ count: Int) -> Float {
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
        let raw = UnsafeRawPointer(p)
        var i = 0
        while i + 32 <= count {
            a0 += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            a1 += raw.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self)
            a2 += raw.loadUnaligned(fromByteOffset: i * 4 + 64, as: SIMD8<Float>.self)
            a3 += raw.loadUnaligned(fromByteOffset: i * 4 + 96, as: SIMD8<Float>.self)
            i += 32
        }
        var total = ((a0 + a1) + (a2 + a3)).sum()
        while i < count {
            total += p[i]
            i += 1
        }
        return total
    }

    /// The FMA probe's vector: the widest the build issues, so the peak it measures is the one the
    /// build's kernels can reach (512-bit in an AVX-512 build: about 1.5x the 256-bit rate on this
    /// development VM's Xeon, whose x86-64-v3 build would otherwise be measured against too low a limit).
    #if CTXBENCH_AVX512
    typealias FMAVector = SIMD16<Float>
    #else
    typealias FMAVector = SIMD8<Float>
    #endif

    /// 12 chains x the vector's lanes x 2 FLOPs per iteration.
    static let fmaFlopsPerIteration = 12 * FMAVector.scalarCount * 2

    /// Twelve independent FMA chains: enough to cover a 4-cycle latency on two FMA pipes (8 needed),
    /// and few enough to stay in 16 vector registers. The multiplier is just below one so values stay finite.
    @inline(never)
    static func fmaChains(iterations: Int, seed: Float) -> Float {
        let m = FMAVector(repeating: 0.999_999)
        let c = FMAVector(repeating: 1e-7 * seed)
        var a0 = FMAVector(repeating: seed), a1 = a0 + 1, a2 = a0 + 2, a3 = a0 + 3
        var a4 = a0 + 4, a5 = a0 + 5, a6 = a0 + 6, a7 = a0 + 7
        var a8 = a0 + 8, a9 = a0 + 9, a10 = a0 + 10, a11 = a0 + 11
        for _ in 0..<iterations {
            a0 = c.addingProduct(a0, m); a1 = c.addingProduct(a1, m)
            a2 = c.addingProduct(a2, m); a3 = c.addingProduct(a3, m)
            a4 = c.addingProduct(a4, m); a5 = c.addingProduct(a5, m)
            a6 = c.addingProduct(a6, m); a7 = c.addingProduct(a7, m)
            a8 = c.addingProduct(a8, m); a9 = c.addingProduct(a9, m)
            a10 = c.addingProduct(a10, m); a11 = c.addingProduct(a11, m)
        }
        let s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11))
        return s.sum()
    }
}
