//! [`closure_adapter!`]: the one shape of every `xxx_fn` constructor in the crate
//! ([`quality_fn`](crate::quality_fn), [`filter_fn`](crate::filter_fn),
//! [`scorer_fn`](crate::scorer_fn), ...): a closure wrapped in a struct that implements a
//! one-method trait by calling it.

/// Defines `pub struct $Adapter<F>`, its `Debug` (the type's name, and the name it was given),
/// the constructor `pub fn $ctor(f)` (or `$ctor(name, f)` with `named`), and `impl $Trait for
/// $Adapter<F>` whose method calls the closure with its arguments. A `named` adapter also
/// implements the trait's `fn name(&self) -> Cow<'static, str>`.
///
/// ```ignore
/// closure_adapter! {
///     /// A [`Health`] hook made from a closure; see [`health_fn`].
///     pub struct HealthFn;
///     /// Makes a [`Health`] hook from a closure.
///     pub fn health_fn;
///     impl Health { fn is_available(&self, model: &ModelId) -> bool; }
/// }
/// ```
macro_rules! closure_adapter {
    (
        $(#[$struct_doc:meta])*
        pub struct $adapter:ident;
        $(#[$ctor_doc:meta])*
        pub fn $ctor:ident;
        impl $tr:ident { fn $method:ident(&self $(, $arg:ident: $ty:ty)*) $(-> $ret:ty)?; }
    ) => {
        $(#[$struct_doc])*
        #[derive(Clone, Copy)]
        pub struct $adapter<F>(F);

        impl<F> ::std::fmt::Debug for $adapter<F> {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(stringify!($adapter))
            }
        }

        $(#[$ctor_doc])*
        pub fn $ctor<F>(f: F) -> $adapter<F>
        where
            F: Fn($($ty),*) $(-> $ret)? + Send + Sync,
        {
            $adapter(f)
        }

        impl<F> $tr for $adapter<F>
        where
            F: Fn($($ty),*) $(-> $ret)? + Send + Sync,
        {
            fn $method(&self $(, $arg: $ty)*) $(-> $ret)? {
                (self.0)($($arg),*)
            }
        }
    };
    (
        $(#[$struct_doc:meta])*
        pub struct $adapter:ident named;
        $(#[$ctor_doc:meta])*
        pub fn $ctor:ident;
        impl $tr:ident { fn $method:ident(&self $(, $arg:ident: $ty:ty)*) $(-> $ret:ty)?; }
    ) => {
        $(#[$struct_doc])*
        #[derive(Clone)]
        pub struct $adapter<F> {
            f: F,
            name: ::std::borrow::Cow<'static, str>,
        }

        impl<F> ::std::fmt::Debug for $adapter<F> {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(stringify!($adapter)).field("name", &self.name).finish()
            }
        }

        $(#[$ctor_doc])*
        pub fn $ctor<F>(name: impl Into<::std::borrow::Cow<'static, str>>, f: F) -> $adapter<F>
        where
            F: Fn($($ty),*) $(-> $ret)? + Send + Sync,
        {
            $adapter { f, name: name.into() }
        }

        impl<F> $tr for $adapter<F>
        where
            F: Fn($($ty),*) $(-> $ret)? + Send + Sync,
        {
            fn $method(&self $(, $arg: $ty)*) $(-> $ret)? {
                (self.f)($($arg),*)
            }
            fn name(&self) -> ::std::borrow::Cow<'static, str> {
                self.name.clone()
            }
        }
    };
}

pub(crate) use closure_adapter;
