# The seconds the longest tests took on 2 cores (CI's plain suite). ctest starts tests in descending
# order of COST, so these run beside the many short tests rather than after them; on a clean clone
# ctest has no record of its own yet (Testing/Temporary/CTestCostData.txt replaces these after a
# first run). Included by CTestTestfile.cmake after the discovered tests (CMakeLists.txt).
foreach(test_cost
    "ShapesSmolModelTest.MatchesTheTestAccuracyTransformersRecorded=150"
    "ServeLoadTest=101"
    "HeldOutSets/ShapesModelTest.MatchesTheAccuracyTransformersRecorded/\"test\"=41"
    "SmolLm2ModelTest.GreedyContinuationsAndLogitsEqualFloat32Transformers=17"
    "SmolLm2ModelTest.GreedyContinuationsEqualLlamaCppsInFloat32=14"
    "JinjaRendererTest.RunawayLoopsHitALimit=14"
    "ServeOpenAiClientTest=13"
    "SmolLm2ModelTest.Bf16AndInt8KeepTheFirstGreedyTokens=13"
    "HeldOutSets/ShapesModelTest.MatchesTheAccuracyTransformersRecorded/\"eval\"=12"
    "SmolLm2ModelTest.Q4PromptLogitsWithinThreePercentOfFloat32=11"
    "JinjaRendererTest.MutatedTemplatesRenderOrFailCleanly=10"
    "EvalCliTest.SweepResumesFromItsJournal=9")
  string(FIND "${test_cost}" "=" split REVERSE)
  string(SUBSTRING "${test_cost}" 0 ${split} test)
  math(EXPR split "${split} + 1")
  string(SUBSTRING "${test_cost}" ${split} -1 cost)
  set_tests_properties("${test}" PROPERTIES COST ${cost})
endforeach()
