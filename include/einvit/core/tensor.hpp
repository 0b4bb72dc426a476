// einvit/core/tensor.hpp — Tensor (owning) and TensorView (non-owning), both with a static shape.
//
//   einvit::Tensor<float, einvit::Shape<197, 768>> x;        // heap, 64-byte aligned, zeroed
//   einvit::Tensor<float, einvit::Shape<197, 768>> y(arena); // in a caller's buffer, no heap
//   auto v = x.view();                                       // TensorView<float, Shape<197, 768>>
//   y = x * 2.0f + einvit::exp(v);                           // one fused pass, SIMD
//
// A tensor is an operand of expressions (einvit/expr/) and the destination of their assignment.
#pragma once

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>

#include "einvit/backend/tags.hpp"
#include "einvit/core/config.hpp"
#include "einvit/core/diagnostics.hpp"
#include "einvit/core/error.hpp"
#include "einvit/core/memory.hpp"
#include "einvit/core/shape.hpp"
#include "einvit/expr/evaluate.hpp"
#include "einvit/expr/nodes.hpp"
#include "einvit/expr/operators.hpp"

namespace einvit::inline EINVIT_ABI {

template <class T, class S, class B, class St>
class TensorView;

/// Tag for constructing a tensor whose elements are left uninitialised: Tensor<...> t(einvit::uninitialized).
struct uninitialized_t {
    explicit uninitialized_t() = default;
};
inline constexpr uninitialized_t uninitialized{};

namespace detail {

// What Tensor and TensorView share: static shape information, element access and the leaf an
// expression reads. Derived provides data().
template <class Derived, class T, class S, class St, class B>
class TensorBase {
    static_assert(is_shape_v<S>, "einvit: the second template argument of a tensor must be einvit::Shape<...>");
    static_assert(is_strides_v<St>, "einvit: the layout of a view must be einvit::Strides<...>");
    static_assert(is_backend_v<B>, "einvit: the backend must be a tag type such as einvit::cpu");

public:
    using value_type = T;
    using element_type = T;
    using shape_type = S;
    using strides_type = St;
    using backend_type = B;

    /// Number of dimensions.
    static constexpr std::size_t rank() noexcept { return S::rank(); }
    /// Number of run-time extents: always 0.
    static constexpr std::size_t rank_dynamic() noexcept { return 0; }
    /// Extent of dimension r.
    static constexpr std::size_t extent(std::size_t r) noexcept { return S::extent(r); }
    /// Extent of dimension r (std::mdspan's name).
    static constexpr std::size_t static_extent(std::size_t r) noexcept { return S::static_extent(r); }
    /// Number of elements.
    static constexpr std::size_t size() noexcept { return S::size(); }
    /// Stride of dimension r, in elements.
    static constexpr std::size_t stride(std::size_t r) noexcept { return St::values[r]; }
    /// True when the elements are contiguous in row-major order.
    static constexpr bool is_contiguous() noexcept { return is_contiguous_layout<S, St>(); }

    /// Element at (i, j, ...): one index per dimension, checked at compile time for count and, in
    /// builds with EINVIT_CHECK_BOUNDS (debug builds), at run time for range.
    template <std::integral... I>
    decltype(auto) operator()(I... index) noexcept(!EINVIT_CHECK_BOUNDS) {
        diagnostics::check_index_count<S, sizeof...(I)>();
#if EINVIT_CHECK_BOUNDS
        check_range(index...);
#endif
        return mut().data()[offset(index...)];
    }
    template <std::integral... I>
    decltype(auto) operator()(I... index) const noexcept(!EINVIT_CHECK_BOUNDS) {
        diagnostics::check_index_count<S, sizeof...(I)>();
#if EINVIT_CHECK_BOUNDS
        check_range(index...);
#endif
        return self().data()[offset(index...)];
    }

    /// Element at (i, j, ...), always range-checked: raises errc::out_of_range naming the index.
    template <std::integral... I>
    decltype(auto) at(I... index) {
        diagnostics::check_index_count<S, sizeof...(I)>();
        check_range(index...);
        return mut().data()[offset(index...)];
    }
    template <std::integral... I>
    decltype(auto) at(I... index) const {
        diagnostics::check_index_count<S, sizeof...(I)>();
        check_range(index...);
        return self().data()[offset(index...)];
    }

    /// Offset in elements of (i, j, ...) from data().
    template <std::integral... I>
    static constexpr std::size_t offset(I... index) noexcept {
        std::size_t r = 0, o = 0;
        ((o += static_cast<std::size_t>(index) * St::values[r++]), ...);
        return o;
    }

    /// The node expressions read this tensor through.
    [[nodiscard]] auto leaf() const noexcept {
        return expr::Leaf<const std::remove_const_t<T>, S, St, B>{self().data()};
    }

protected:
    // Evaluates e into this tensor (shapes must match exactly).
    template <class E>
    void assign_from(const E& e) {
        using N = expr::node_t<E>;
        diagnostics::check_assigned_shape<S, typename N::shape_type>();
        diagnostics::check_element_types<std::remove_const_t<T>, typename N::value_type>();
        if constexpr (!std::is_void_v<typename N::backend_type>) diagnostics::check_backends<B, typename N::backend_type>();
        expr::assign<B, S, St>(mut().data(), expr::as_node(e));
    }

    template <class Op, class X>
    void compound_assign(const X& x) {
        if constexpr (S::size() != 0)
            if (!self().data()) raise(errc::invalid_argument, "einvit: compound assignment to a tensor that was moved from (it has no values)");
        assign_from(expr::make_binary<Op>(leaf(), as_operand(x)));
    }

    template <class X>
    static auto as_operand(const X& x) {
        if constexpr (expr::ScalarValue<X>) {
            expr::check_scalar<std::remove_const_t<T>, X>();
            return expr::Scalar<std::remove_const_t<T>>{static_cast<std::remove_const_t<T>>(x)};
        } else {
            return expr::as_node(x);
        }
    }

private:
    const Derived& self() const noexcept { return static_cast<const Derived&>(*this); }
    Derived& mut() noexcept { return static_cast<Derived&>(*this); }

    template <class... I>
    static void check_range(I... index) {
        std::size_t r = 0;
        bool ok = true;
        ((ok = ok && static_cast<std::size_t>(index) < S::extents[r] && !(std::is_signed_v<I> && +index < 0), ++r), ...);
        if (!ok) out_of_range(+index...);  // promoted: a char or a bool index reads as a number
    }
    // The error, made out of line
    template <class... I>
    [[noreturn]] EINVIT_COLD static void out_of_range(I... index) {
        message text("index (");
        std::size_t k = 0;
        ((text += k++ ? ", " : "", text += index), ...);
        text += ") is out of range for a tensor of shape ";
        raise(errc::out_of_range, detail::append_shape<S>(text));
    }
};

}  // namespace detail

/// An owning tensor of element type T and static shape S on backend B. Storage is 64-byte aligned,
/// zero-initialised, and comes from the heap or, when constructed with one, from an Arena (never from
/// the stack, whatever the shape). Copying copies the elements; moving moves the buffer.
template <class T, class S, class B = cpu>
class Tensor : public detail::TensorBase<Tensor<T, S, B>, T, S, row_major_strides_t<S>, B> {
    using Base = detail::TensorBase<Tensor<T, S, B>, T, S, row_major_strides_t<S>, B>;
    static_assert(!std::is_const_v<T>, "einvit: an owning tensor holds mutable elements; use TensorView<const T, ...> for read-only access");

public:
    using typename Base::strides_type;

    /// Zero-initialised storage from the heap; raises out_of_memory if there is none.
    Tensor() : data_(heap_or_raise()), owned_(true) { check_element_and_backend(); }

    /// Heap storage left uninitialised, for a tensor the caller overwrites at once (every operation
    /// that returns a new tensor fills all of it).
    explicit Tensor(uninitialized_t) : data_(heap_or_raise(false)), owned_(true) { check_element_and_backend(); }

    /// Zero-initialised storage placed in `arena`; raises out_of_memory if it is full.
    explicit Tensor(Arena& arena) : data_(static_cast<T*>(arena.allocate(bytes()))), owned_(false) {
        check_element_and_backend();
    }

    /// A tensor in `arena`, or the error saying why there was no room.
    [[nodiscard]] static result<Tensor> try_create(Arena& arena) {
        auto p = arena.try_allocate(bytes());
        if (!p) return p.failure();
        return Tensor(static_cast<T*>(*p), false);
    }

    /// A tensor on the heap, or an out_of_memory error.
    [[nodiscard]] static result<Tensor> try_create() {
        T* p = static_cast<T*>(detail::heap_allocate(bytes()));
        if (!p && bytes() != 0) return no_memory();
        return Tensor(p, true);
    }

    /// A heap tensor holding the value of expression e.
    template <expr::Operand E>
        requires(!std::is_same_v<std::remove_cvref_t<E>, Tensor>)
    Tensor(const E& e) : Tensor(uninitialized) {  // NOLINT: implicit, like assignment
        this->assign_from(e);
    }

    Tensor(const Tensor& other) : Tensor(other.data_ ? Tensor(uninitialized) : Tensor()) {
        if (other.data_) std::copy_n(other.data_, S::size(), data_);
    }
    Tensor(Tensor&& other) noexcept : data_(std::exchange(other.data_, nullptr)), owned_(other.owned_) {}

    Tensor& operator=(const Tensor& other) {
        if (this != &other && other.data_) {
            storage_if_moved_from();
            std::copy_n(other.data_, S::size(), data_);
        }
        return *this;
    }
    Tensor& operator=(Tensor&& other) noexcept {
        if (this != &other) {
            release();
            data_ = std::exchange(other.data_, nullptr);
            owned_ = other.owned_;
        }
        return *this;
    }
    ~Tensor() { release(); }

    /// Evaluates expression e into this tensor in one pass; e's shape must be S.
    template <expr::Operand E>
        requires(!std::is_same_v<std::remove_cvref_t<E>, Tensor>)
    Tensor& operator=(const E& e) {
        storage_if_moved_from();
        this->assign_from(e);
        return *this;
    }
    /// Sets every element to v.
    Tensor& operator=(T v) {
        storage_if_moved_from();
        std::fill_n(data_, S::size(), v);
        return *this;
    }

    template <class X>
    Tensor& operator+=(const X& x) {
        this->template compound_assign<fn::plus>(x);
        return *this;
    }
    template <class X>
    Tensor& operator-=(const X& x) {
        this->template compound_assign<fn::minus>(x);
        return *this;
    }
    template <class X>
    Tensor& operator*=(const X& x) {
        this->template compound_assign<fn::multiplies>(x);
        return *this;
    }
    template <class X>
    Tensor& operator/=(const X& x) {
        this->template compound_assign<fn::divides>(x);
        return *this;
    }

    /// The elements, row-major; null after the tensor was moved from.
    [[nodiscard]] T* data() noexcept { return data_; }
    [[nodiscard]] const T* data() const noexcept { return data_; }
    T* begin() noexcept { return data_; }
    T* end() noexcept { return data_ + S::size(); }
    const T* begin() const noexcept { return data_; }
    const T* end() const noexcept { return data_ + S::size(); }

    /// Whether the storage came from the heap (false: from an arena).
    [[nodiscard]] bool owns_heap_storage() const noexcept { return owned_; }

    /// A non-owning view of the same elements.
    [[nodiscard]] TensorView<T, S, B, strides_type> view() noexcept { return TensorView<T, S, B, strides_type>(data_); }
    [[nodiscard]] TensorView<const T, S, B, strides_type> view() const noexcept {
        return TensorView<const T, S, B, strides_type>(data_);
    }

    using Base::operator();

    /// Bytes of storage a tensor of this type occupies.
    static constexpr std::size_t bytes() noexcept { return S::size() * sizeof(T); }

private:
    Tensor(T* p, bool owned) noexcept : data_(p), owned_(owned) { check_element_and_backend(); }

    static constexpr void check_element_and_backend() noexcept {
        diagnostics::check_arithmetic<T>();
        diagnostics::check_host_backend<B>();  // device storage comes with the CUDA backend
    }

    static T* heap_or_raise(bool zero = true) {
        void* p = detail::heap_allocate(bytes(), zero);
        if (!p && bytes() != 0) raise(no_memory());
        return static_cast<T*>(p);
    }
    // The heap's refusal, naming the shape (made out of line)
    EINVIT_COLD static error no_memory() {
        message text("no memory for a tensor of shape ");
        return error(errc::out_of_memory, detail::append_shape<S>(text) += detail::no_heap_note);
    }
    void release() noexcept {
        if (owned_) detail::heap_free(data_, bytes());
        data_ = nullptr;
    }
    // A tensor moved from has no storage; one assigned a whole new value takes fresh heap storage
    // (a compound assignment, which reads the old values, raises instead: see TensorBase).
    void storage_if_moved_from() {
        if (!data_) {
            data_ = heap_or_raise(false);
            owned_ = true;
        }
    }

    T* data_;
    bool owned_;
};

/// A non-owning tensor over memory someone else owns: a pointer with a static shape S and static
/// strides St (row-major by default). T may be const for read-only views. Copying a view copies the
/// pointer; assigning an expression (or another view) to it writes the elements it refers to.
template <class T, class S, class B = cpu, class St = row_major_strides_t<S>>
class TensorView : public detail::TensorBase<TensorView<T, S, B, St>, T, S, St, B> {
    using Base = detail::TensorBase<TensorView<T, S, B, St>, T, S, St, B>;

public:
    /// A view of the elements at `data`, which must hold at least as many as the layout reaches.
    explicit constexpr TensorView(T* data) noexcept : data_(data) {
        diagnostics::check_strides<S, St>();
        diagnostics::check_arithmetic<T>();
    }

    /// A read-only view from a mutable one.
    template <class U>
        requires(std::is_const_v<T> && std::is_same_v<const U, T>)
    constexpr TensorView(const TensorView<U, S, B, St>& other) noexcept : data_(other.data()) {}  // NOLINT

    TensorView(const TensorView&) = default;

    /// Writes the elements of `other` into the elements this view refers to.
    TensorView& operator=(const TensorView& other)
        requires(!std::is_const_v<T>)
    {
        this->assign_from(other);
        return *this;
    }

    /// Evaluates expression e into the viewed elements; e's shape must be S.
    template <expr::Operand E>
        requires(!std::is_const_v<T> && !std::is_same_v<std::remove_cvref_t<E>, TensorView>)
    TensorView& operator=(const E& e) {
        this->assign_from(e);
        return *this;
    }
    /// Sets every viewed element to v.
    TensorView& operator=(std::remove_const_t<T> v)
        requires(!std::is_const_v<T>)
    {
        this->assign_from(expr::Scalar<T>{v});
        return *this;
    }

    template <class X>
    TensorView& operator+=(const X& x) requires(!std::is_const_v<T>) {
        this->template compound_assign<fn::plus>(x);
        return *this;
    }
    template <class X>
    TensorView& operator-=(const X& x) requires(!std::is_const_v<T>) {
        this->template compound_assign<fn::minus>(x);
        return *this;
    }
    template <class X>
    TensorView& operator*=(const X& x) requires(!std::is_const_v<T>) {
        this->template compound_assign<fn::multiplies>(x);
        return *this;
    }
    template <class X>
    TensorView& operator/=(const X& x) requires(!std::is_const_v<T>) {
        this->template compound_assign<fn::divides>(x);
        return *this;
    }

    [[nodiscard]] constexpr T* data() const noexcept { return data_; }

    /// The view itself (views are cheap to copy).
    [[nodiscard]] TensorView view() const noexcept { return *this; }

    using Base::operator();

private:
    T* data_;
};

}  // namespace einvit
