//! Runtime dispatch of batch kernels to the CPU's vector unit, as numpy dispatches its loops.
//!
//! Wheels target baseline x86-64 (SSE2: two doubles a vector). A function defined with
//! [`widest!`] is compiled twice, once more with AVX2 enabled (four doubles a vector), and
//! the AVX2 copy runs where [`uses_avx2`]. Both copies do the same IEEE operations in the
//! same order (no FMA is enabled, so nothing is contracted): their results are the same bits.
//! Functions the body calls get AVX2 code only where they are inlined, so the kernels' helpers
//! are `#[inline(always)]`.

/// Whether kernels run their AVX2 copies: the CPU has AVX2 and the environment variable
/// `BURNGUARD_DISABLE_AVX2` was unset when first asked (tests set it to run the baseline).
pub fn uses_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static USES_AVX2: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *USES_AVX2.get_or_init(|| {
            std::env::var_os("BURNGUARD_DISABLE_AVX2").is_none()
                && std::arch::is_x86_feature_detected!("avx2")
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Defines a function whose body runs compiled with AVX2 where [`uses_avx2`].
macro_rules! widest {
    ($(#[$attr:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$attr])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                #[allow(unsafe_code)]
                unsafe fn with_avx2($($arg: $ty),*) $(-> $ret)? $body

                if $crate::simd::uses_avx2() {
                    // SAFETY: `with_avx2` needs AVX2 and nothing else, and the CPU has it.
                    #[allow(unsafe_code)]
                    return unsafe { with_avx2($($arg),*) };
                }
            }
            $body
        }
    };
}

pub(crate) use widest;
