"""The raw word lists of the story world: simple words a 3-5 year old knows, grouped by the role they play.

Notation (parsed by `vocab.py`):
  nouns       `mouse/mice` irregular plural, `milk~` uncountable ("some milk"), `boot!` used in the plural
              ("her boots"), `teddy_bear` a space inside a word
  verbs       `run/ran` irregular past, `lie/lay/lying` irregular -ing too, `pick_up` a phrasal verb
  adjectives  plain words

A group name says where the generator may use the word (`toy` things can be lost, shared and played with;
`furniture` is where a lost thing can hide; `animal_color` adjectives only describe animals), so that every word
in the lists actually turns up in stories, in a sentence where it makes sense.

Example: NOUN_GROUPS["toy"].split()[0] == "ball"
"""

from __future__ import annotations

NOUN_GROUPS: dict[str, str] = {
    # things a story can turn around: played with, lost, shared, broken, given as a present
    "toy": """ball doll kite truck car block puzzle teddy_bear robot train boat plane balloon drum whistle yo-yo
        puppet rocket wagon scooter top marble rattle bell horn guitar xylophone tambourine jump_rope hula_hoop
        spinning_top toy_car toy_boat dollhouse/dollhouses rubber_duck stuffed_bunny stuffed_dog pinwheel bucket
        shovel sailboat teapot_set race_car magic_wand crown trumpet flute piano harmonica kazoo frisbee
        rocking_horse kaleidoscope tea_set toy_plane bouncy_ball beach_ball soccer_ball baseball action_figure
        toy_soldier paper_boat paper_plane pail spade toy_piano bubble_wand tricycle stuffed_bear stuffed_cat rag_doll
        hobby_horse toy_train""",
    "art": """crayon pencil marker paintbrush/paintbrushes sticker book notebook picture_book coloring_book
        drawing painting card letter chalk~ clay~ glitter~ scissors~ tape~ glue~ paper~ ribbon bead""",
    "household": """cup plate bowl spoon box basket bag blanket pillow lamp clock vase mirror towel
        toothbrush/toothbrushes brush/brushes comb key jar bottle umbrella backpack present gift candle
        teapot pot pan broom mug
        lunchbox/lunchboxes flashlight sponge soap~ photo watch/watches wallet purse jewelry_box music_box
        piggy_bank snow_globe picture_frame treasure_box button necklace bracelet ring
        fork napkin tray kettle ladder hammer rope string pillowcase quilt lantern cookie_jar mailbox
        watering_can rake flowerpot yarn~ wool~ phone radio""",
    "clothes": """hat cap coat jacket scarf/scarves dress/dresses shirt sweater skirt sock! shoe! boot! mitten! glove!
        pajama! raincoat cape mask bow apron sneaker! sandal! slipper! helmet vest hoodie bathing_suit
        belt tie bib robe tutu tiara bonnet earmuff! nightgown swimsuit sweatshirt""",
    "fruit": """apple banana orange grape! pear peach/peaches plum cherry/cherries strawberry/strawberries
        blueberry/blueberries lemon melon watermelon pineapple mango/mangoes kiwi coconut
        apricot fig lime raspberry/raspberries blackberry/blackberries grapefruit avocado""",
    "veggie": """carrot pea! corn~ potato/potatoes tomato/tomatoes bean! pumpkin cucumber mushroom broccoli~ lettuce~
        onion pepper
        celery~ spinach~ cabbage radish/radishes beet zucchini turnip cauliflower~ sweet_potato/sweet_potatoes""",
    "baked": """cookie cake cupcake pie muffin donut pancake waffle bread~ cracker pretzel bun roll biscuit
        bagel croissant brownie gingerbread_man/gingerbread_men birthday_cake cheesecake""",
    "treat": """candy/candies lollipop ice_cream~ chocolate~ jelly_bean gumdrop popcorn~ honey~ jam~ marshmallow
        cheese~ nut!
        pudding~ jelly~ yogurt~ sundae milkshake cotton_candy~ syrup~ whipped_cream~ sprinkle! sugar~""",
    "meal": """soup~ rice~ sandwich/sandwiches pizza pasta~ noodle! egg toast~ cereal~ salad~ oatmeal~ butter~
        porridge~ pie
        taco meatball hot_dog omelet spaghetti~ macaroni~ stew~""",
    "drink": """milk~ juice~ water~ tea~ lemonade~ cocoa~ hot_chocolate~ smoothie""",
    "nature_small": """leaf/leaves rock stone stick shell feather pinecone acorn seed pebble flower petal daisy/daisies
        rose tulip sunflower clover dandelion twig berry/berries
        moss~ seashell bud blossom vine thorn snowflake raindrop icicle sand~ mud~ dirt~ grass~ pine_needle
        lily/lilies poppy/poppies buttercup bluebell fern weed root honeycomb cocoon web""",
    "nature_big": """tree bush/bushes log hill pond puddle nest branch fence hedge garden_bed flower_bed haystack
        rock_pile sandcastle snowman/snowmen stream waterfall mountain river lake
        oak pine_tree apple_tree cherry_tree willow bridge path trail boulder tree_stump hole burrow
        beehive anthill wave shore valley well treehouse pumpkin_patch vegetable_garden gate wall roof chimney
        porch""",
    "sky": """sun moon star cloud rainbow sky/skies kite_string
        sunset sunrise breeze lightning~ shooting_star moonlight~ starlight~""",
    "weather": """rain~ snow~ wind~ thunder~ storm fog~ sunshine~
        misty breezy frosty icy gray""",
    "furniture": """bed chair table door window couch/couches shelf/shelves closet drawer stairs~ rug sofa desk
        bathtub sink oven fridge toy_box/toy_boxes cupboard laundry_basket doghouse/doghouses bench/benches
        slide swing sandbox/sandboxes
        crib high_chair bookshelf/bookshelves cabinet armchair rocking_chair bunk_bed stool dresser doormat
        garage attic basement hallway playhouse tent pillow_fort""",
    "animal": """dog cat bird bunny/bunnies rabbit duck frog bear lion tiger mouse/mice fish/fish horse cow pig
        sheep/sheep goat hen chicken rooster lamb puppy/puppies kitten fox/foxes owl squirrel deer/deer turtle
        snail bee butterfly/butterflies ant ladybug worm caterpillar spider elephant giraffe monkey zebra hippo
        kangaroo koala panda penguin seal whale dolphin crab octopus starfish/starfish bat raccoon hedgehog beaver
        otter parrot goose/geese swan robin crow pigeon donkey pony/ponies camel dinosaur dragon unicorn
        wolf/wolves lizard snake hamster mole chipmunk firefly/fireflies dragonfly/dragonflies grasshopper beetle
        goldfish/goldfish calf/calves chick duckling cub bumblebee
        flamingo peacock turkey moose/moose rhino gorilla cheetah leopard polar_bear puffin seahorse
        jellyfish/jellyfish walrus/walruses toad tadpole lobster shrimp/shrimp woodpecker sparrow bluebird
        hummingbird eagle moth cricket pup foal piglet""",
    "person": """mom dad mother father grandma grandpa baby/babies sister brother aunt uncle cousin friend teacher
        girl boy child/children kid neighbor farmer doctor nurse baker cook king queen prince
        princess/princesses firefighter pilot driver man/men woman/women lady/ladies family/families
        grandmother grandfather mommy/mommies daddy/daddies granny/grannies twin toddler classmate pal
        buddy/buddies helper mailman/mailmen police_officer dentist vet painter gardener giant fairy/fairies wizard
        pirate knight clown magician dancer singer artist""",
    "vehicle": """bus/buses train truck bike bicycle ship tractor fire_truck helicopter taxi van airplane
        motorcycle
        sled canoe raft rowboat spaceship submarine ambulance police_car garbage_truck school_bus digger
        bulldozer ice_cream_truck hot_air_balloon""",
    "place": """park garden beach forest woods~ farm pond lake river playground school house home kitchen bedroom
        backyard yard meadow field jungle zoo library store shop bakery castle cave hill mountain sea ocean
        island town city street road barn pool village
        hospital market circus museum aquarium pet_shop toy_store playroom living_room bathroom orchard
        campsite desert swamp harbor bus_stop train_station airport neighborhood palace fair
        dusty sandy grassy rocky leafy crowded dark wild open faraway secret""",
    "body": """hand foot/feet leg arm head nose ear eye mouth tooth/teeth knee finger toe tummy/tummies face cheek
        elbow
        tail paw wing beak whisker! fur~ mane hoof/hooves belly/bellies chin lip shoulder neck thumb hair~ tongue""",
    "time": """day night morning afternoon evening time birthday party/parties game song story/stories idea
        surprise smile hug kiss/kisses lunch dinner breakfast snack picnic nap bath noise sound
        week summer winter spring fall
        holiday vacation bedtime playtime dream wish/wishes secret prize race contest joke question lesson
        promise adventure trip walk visit job chore rule mistake plan treasure map clue""",
}

VERB_GROUPS: dict[str, str] = {
    # things to do at a place; used in "liked to ...", "was ...-ing", "they ... together"
    "activity": """play dance sing/sang run/ran jump hop skip swim/swam climb paint draw/drew read/read explore giggle
        laugh whistle twirl spin/spun bake cook build/built dig/dug march race rest nap hum clap splash
        slide/slid swing/swung bounce tumble crawl fly/flew ride/rode color count skate sail float
        fish pretend
        doodle scribble hike camp juggle wiggle wobble stomp tap write/wrote sew knit/knitted/knitting sled ski
        surf dive row paddle stretch relax snooze cuddle snuggle practice""",
    # how a character moves (some only for some kinds of character: see world.py)
    "movement": """walk hurry rush dash zoom wander stroll tiptoe waddle gallop trot scurry scamper slither
        flutter jog""",
    "sound": """bark meow purr chirp tweet quack moo oink neigh roar hiss buzz squeak croak howl growl hoot cluck
        baa squawk honk""",
    "speech": """say/said ask shout yell whisper cry reply call exclaim answer beg promise cheer sob""",
    "emotion": """smile frown sigh nod shrug gasp pout blush sniff grin yawn sneeze wink shiver tremble""",
    # done to a thing a character holds
    "handle": """hold/held carry find/found lose/lost hide/hid/hiding drop show share keep/kept bring/brought
        take/took/taking pick_up look_at touch love like want need give/gave put/put/putting grab hug wash clean
        fix throw/threw catch/caught kick roll push pull shake/shook open close fill stack fold wear/wore
        borrow lend/lent trade wrap polish decorate paint squeeze toss hang/hung
        feed/fed pet brush comb tie untie zip pack unpack sort collect gather spread scoop dip pat rub tickle
        poke tug lift balance bury sweep/swept mop dust scrub rinse dry trace carry_home""",
    "eat": """eat/ate taste bite/bit munch lick sip drink/drank peel cut/cut/cutting smell chew gobble nibble
        crunch slurp mix stir pour""",
    # the turns of a plot
    "plot": """break/broke spill tear/tore fall/fell trip slip hurt/hurt help save rescue search look forget/forgot
        remember apologize forgive/forgave learn/learned listen thank wait try wish hope wonder worry decide
        know/knew think/thought feel/felt see/saw hear/heard notice watch leave/left arrive come/came go/went
        return stay sleep/slept wake/woke dream visit knock tell/told agree argue fight/fought tease scare chase
        sting/stung get/got make/made begin/began/beginning stop sit/sat stand/stood meet/met win/won
        buy/bought plant grow/grew water pick reach follow guide carry_on cheer_up calm_down
        bump crash sink/sank drift blow/blew melt freeze/froze shine/shone glow sparkle twinkle pop burst/burst
        crack snap rip topple land bloom sprout hatch appear disappear vanish peek hunt discover imagine believe
        understand/understood escape celebrate welcome invite greet comfort protect warn scold blame lie/lied/lying
        admit ignore refuse allow let/let/letting teach/taught miss mend tidy serve fail practice wobble cheer"""
}

ADJECTIVE_GROUPS: dict[str, str] = {
    "feeling_good": """happy glad excited proud joyful cheerful calm thankful delighted pleased relieved surprised
        amazed hopeful cozy safe brave
        content eager lucky grateful ready snug comfy giddy""",
    "feeling_bad": """sad upset scared afraid worried angry mad grumpy lonely nervous frightened tired sleepy hungry
        bored jealous sorry embarrassed gloomy cross
        unhappy sulky cranky fussy dizzy sore itchy thirsty confused puzzled disappointed homesick tearful""",
    "trait": """kind curious shy friendly gentle clever smart silly funny helpful polite playful careful busy honest
        quiet loud sweet cute generous wise caring patient cheeky bouncy lively happy-go-lucky thoughtful
        bossy grumpy-faced brave bold merry jolly chatty
        naughty greedy selfish rude mean clumsy lazy fearless strong fast quick slow wild loyal fair good
        dreamy creative nosy grouchy timid daring cuddly""",
    "size": """big small little tiny huge giant tall long
        short young wide thin thick deep high enormous teeny large""",
    "color": """red blue green yellow orange purple pink brown black white gray golden silver
        violet rosy dark pale""",
    "animal_color": """brown black white gray orange spotted striped golden fluffy furry fuzzy soft
        spotty scruffy shaggy sleek chubby tiny""",
    "texture": """soft smooth bumpy sticky shiny fuzzy hard squishy bouncy
        rough silky slimy slippery prickly spiky scratchy crinkly lumpy squeaky woolly feathery glittery
        spotty stripy wrinkly""",
    "thing": """new old pretty beautiful special favorite sparkly colorful bright fancy magic plain heavy light
        precious wonderful lovely nice tidy neat clean shiny cool fun
        wooden plastic round square flat pointy curly perfect strange odd hidden missing rare lucky noisy shiny""",
    "food": """yummy tasty sweet juicy fresh crunchy warm delicious ripe sour salty gooey crispy creamy chewy
        hot
        sugary cheesy fruity minty buttery frozen melty spicy bitter chocolatey homemade toasty""",
    "weather": """sunny rainy windy cloudy snowy foggy bright warm cold cool hot chilly stormy lovely""",
    "place": """quiet busy peaceful green big huge pretty beautiful sunny shady cool noisy magical""",
    "state": """wet dry dirty muddy broken messy empty full stuck lost hurt sick
        thirsty awake asleep alone tangled torn cracked bent loose soggy sandy""",
}
