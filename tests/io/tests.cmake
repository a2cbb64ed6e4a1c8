# The io tests also run the x2v binary (`x2v inspect`); build it first.
if(TARGET x2v_io_tests AND TARGET x2v)
  add_dependencies(x2v_io_tests x2v)
endif()
