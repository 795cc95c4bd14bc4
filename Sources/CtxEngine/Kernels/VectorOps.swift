/// Row-wise vector kernels over raw pointers. Each processes 8 lanes at a time with a scalar tail,
/// so any length works. Shapes are per call: `x (n,)`.
public enum VectorOps {
    @inline(__always)
    static func load(_ p: UnsafePointer<Float>, _ i: Int) -> SIMD8<Float> {
        UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always)
    static func store(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, _ i: Int) {
        UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: SIMD8<Float>.self)
    }

    /// Σ a[i] b[i], four 8-wide FMA chains.
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), s2 = SIMD8<Float>(), s3 = SIMD8<Float>()
        var i = 0
        while i &+ 32 <= n {
            s0.addProduct(load(a, i), load(b, i))
            s1.addProduct(load(a, i &+ 8), load(b, i &+ 8))
            s2.addProduct(load(a, i &+ 16), load(b, i &+ 16))
            s3.addProduct(load(a, i &+ 24), load(b, i &+ 24))
            i &+= 32
        }
        while i &+ 8 <= n {
            s0.addProduct(load(a, i), load(b, i))
            i &+= 8
        }
        var total = ((s0 + s1) + (s2 + s3)).sum()
        while i < n {
            total += a[i] * b[i]
            i &+= 1
        }
        return total
    }

    /// Σ x[i]^2
    @inline(__always)
    public static func sumOfSquares(_ x: UnsafePointer<Float>, _ n: Int) -> Float { dot(x, x, n) }

    /// y = x * s (y may alias x).
    public static func scale(_ x: UnsafePointer<Float>, _ s: Float, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        var i = 0
        while i &+ 8 <= n { store(load(x, i) * s, y, i); i &+= 8 }
        while i < n { y[i] = x[i] * s; i &+= 1 }
    }

    /// y += a * x
    public static func axpy(_ a: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        var i = 0
        let av = SIMD8<Float>(repeating: a)
        while i &+ 8 <= n { store(load(UnsafePointer(y), i).addingProduct(av, load(x, i)), y, i); i &+= 8 }
        while i < n { y[i] += a * x[i]; i &+= 1 }
    }

    /// y = a * b elementwise (y may alias a or b).
    public static func multiply(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        var i = 0
        while i &+ 8 <= n { store(load(a, i) * load(b, i), y, i); i &+= 8 }
        while i < n { y[i] = a[i] * b[i]; i &+= 1 }
    }

    /// y += a * b elementwise.
    public static func multiplyAdd(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        var i = 0
        while i &+ 8 <= n { store(load(UnsafePointer(y), i).addingProduct(load(a, i), load(b, i)), y, i); i &+= 8 }
        while i < n { y[i] += a[i] * b[i]; i &+= 1 }
    }

    /// y = x * w / sqrt(mean(x^2) + eps): RMSNorm with a weight vector (y may alias x).
    public static func rmsNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, eps: Float,
                               _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        let inv = 1 / (sumOfSquares(x, n) / Float(n) + eps).squareRoot()
        var i = 0
        let s = SIMD8<Float>(repeating: inv)
        while i &+ 8 <= n { store(load(x, i) * s * load(weight, i), y, i); i &+= 8 }
        while i < n { y[i] = x[i] * inv * weight[i]; i &+= 1 }
    }

    /// x / sqrt(Σ x^2 + eps): L2 normalization as flash-linear-attention's reference does it
    /// (eps inside the root, 1e-6 there). llama.cpp instead divides by max(||x||, eps).
    public static func l2Normalize(_ x: UnsafePointer<Float>, eps: Float, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        scale(x, 1 / (sumOfSquares(x, n) + eps).squareRoot(), y, n)
    }

    /// Applies `simd` to 8 lanes at a time and `scalar` to the tail (through a padded vector so the
    /// tail gets the same polynomial, not a different libm answer).
    @inline(__always)
    static func map(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int,
                    _ simd: (SIMD8<Float>) -> SIMD8<Float>) {
        var i = 0
        while i &+ 8 <= n { store(simd(load(x, i)), y, i); i &+= 8 }
        if i < n {
            var tail = SIMD8<Float>()
            for j in 0..<(n &- i) { tail[j] = x[i &+ j] }
            let out = simd(tail)
            for j in 0..<(n &- i) { y[i &+ j] = out[j] }
        }
    }

    public static func exp(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        map(x, y, n, FastMath.exp)
    }

    public static func silu(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        map(x, y, n, FastMath.silu)
    }

    public static func sigmoid(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        map(x, y, n, FastMath.sigmoid)
    }

    public static func softplus(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        map(x, y, n, FastMath.softplus)
    }

    /// out = silu(gate) * up: the SwiGLU activation. With `limit`, silu(gate) is clamped above at
    /// `limit` and up to ±limit (Step-3.5-Flash's clamped SwiGLU).
    public static func swiglu(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, limit: Float? = nil,
                              _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        var i = 0
        let hi = SIMD8<Float>(repeating: limit ?? .infinity), lo = -hi
        while i &+ 8 <= n {
            var g = FastMath.silu(load(gate, i))
            var u = load(up, i)
            if limit != nil {
                g = g.replacing(with: hi, where: g .> hi)
                u = u.replacing(with: hi, where: u .> hi).replacing(with: lo, where: u .< lo)
            }
            store(g * u, out, i)
            i &+= 8
        }
        if i < n {
            var g = SIMD8<Float>(), u = SIMD8<Float>()
            for j in 0..<(n &- i) { g[j] = gate[i &+ j]; u[j] = up[i &+ j] }
            g = FastMath.silu(g)
            if let limit {
                for j in 0..<(n &- i) { g[j] = Swift.min(g[j], limit); u[j] = Swift.min(Swift.max(u[j], -limit), limit) }
            }
            for j in 0..<(n &- i) { out[i &+ j] = g[j] * u[j] }
        }
    }

    /// Largest element (NaN-free input assumed; returns -inf for n == 0).
    public static func max(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var m = SIMD8<Float>(repeating: -.infinity)
        var i = 0
        while i &+ 8 <= n {
            let v = load(x, i)
            m = m.replacing(with: v, where: v .> m)
            i &+= 8
        }
        var result = -Float.infinity
        for j in 0..<8 where m[j] > result { result = m[j] }
        while i < n { if x[i] > result { result = x[i] }; i &+= 1 }
        return result
    }

    /// In place: x = softmax(x) = exp(x - max) / Σ exp(x - max).
    public static func softmax(_ x: UnsafeMutablePointer<Float>, _ n: Int) {
        guard n > 0 else { return }
        let m = max(x, n)
        var sum: Float = 0
        var i = 0
        var acc = SIMD8<Float>()
        while i &+ 8 <= n {
            let e = FastMath.exp(load(x, i) - m)
            store(e, x, i)
            acc += e
            i &+= 8
        }
        sum = acc.sum()
        if i < n {
            var tail = SIMD8<Float>(repeating: -.infinity)
            for j in 0..<(n &- i) { tail[j] = x[i &+ j] - m }
            let e = FastMath.exp(tail)
            for j in 0..<(n &- i) { x[i &+ j] = e[j]; sum += e[j] }
        }
        scale(x, 1 / sum, x, n)
    }

    /// acc[0..<dim] += Σ_j weights[j] * rows[j * stride ..< j * stride + dim]; 32 lanes of acc stay
    /// in registers while every row passes (one load per FMA).
    @inline(__always)
    public static func accumulateRows(_ acc: UnsafeMutablePointer<Float>, weights: UnsafePointer<Float>, rows: UnsafePointer<Float>,
                           stride: Int, count: Int, dim: Int) {
        var c = 0
        while c + 32 <= dim {
            var a0 = VectorOps.load(acc, c), a1 = VectorOps.load(acc, c + 8)
            var a2 = VectorOps.load(acc, c + 16), a3 = VectorOps.load(acc, c + 24)
            for j in 0..<count {
                let w = SIMD8<Float>(repeating: weights[j])
                let r = rows + j * stride + c
                a0.addProduct(w, VectorOps.load(r, 0)); a1.addProduct(w, VectorOps.load(r, 8))
                a2.addProduct(w, VectorOps.load(r, 16)); a3.addProduct(w, VectorOps.load(r, 24))
            }
            VectorOps.store(a0, acc, c); VectorOps.store(a1, acc, c + 8)
            VectorOps.store(a2, acc, c + 16); VectorOps.store(a3, acc, c + 24)
            c += 32
        }
        while c < dim {
            var a = acc[c]
            for j in 0..<count { a += weights[j] * rows[j * stride + c] }
            acc[c] = a
            c += 1
        }
    }
}
