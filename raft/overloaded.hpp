#pragma once
// Overloaded{...}: visit a std::variant with one lambda per alternative, so a missing case does not compile.

namespace coraft {

template <class... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

}  // namespace coraft
