# Compiler warnings and sanitizers, applied per target so third-party headers stay untouched.

function(bluegreen_target_options target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
    -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual
    -Wimplicit-fallthrough -Wformat=2)
  if(BLUEGREEN_WARNINGS_AS_ERRORS)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

if(BLUEGREEN_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=address,undefined)
endif()

if(BLUEGREEN_TSAN)
  if(BLUEGREEN_SANITIZE OR BLUEGREEN_FUZZ)
    message(FATAL_ERROR "BLUEGREEN_TSAN cannot be combined with AddressSanitizer (BLUEGREEN_SANITIZE, BLUEGREEN_FUZZ)")
  endif()
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
endif()
