"""Story templates: a shared opening, and per plot the setup, problem, feature parts and endings.

A template is one or more sentences separated by " | " with `{fields}` from the cast (`world.sample_cast`).
A leading tag limits where a template may be used: `[H]` human heroes, `[A]` animal heroes, `[O]` outdoor places,
`[I]` indoor places (`[HO]` both). Lists whose key ends in `_d` hold the dialogue versions (quoted speech); every
other list is quote-free, so a story has quotes exactly when it has the Dialogue feature.

Example: PLOTS["lost"]["problem"][0]
"""

from __future__ import annotations

OPENING: dict[str, list[str]] = {
    "intro": [
        "Once upon a time, there was {a_hero} named {name}.",
        "Once upon a time, there was {a_hero} called {name}.",
        "There once was {a_hero} named {name}.",
        "Once upon a time, {a_hero} named {name} lived {home}.",
        "Long ago, there lived {a_hero} named {name}.",
        "[H] In a little town, there lived {a_hero} named {name}.",
        "{name} was {a_hero} who lived {home}.",
        "Once upon a time, in a faraway land, there was {a_hero} named {name}.",
        "There was once {a_hero}. | {His} name was {name}.",
    ],
    "like": [
        "{He} loved to {act}.",
        "{His} favorite thing to do was to {act}.",
        "Every day, {he} liked to {act} {at_place}.",
        "{name} was very {trait}, and {he} always wanted to {act}.",
        "More than anything, {name} loved to {act}.",
        "[H] {He} liked to pretend to be {role}.",
        "{name} liked to {act} with {his} friends.",
        "{He} loved to {hobby}. | {He} also liked to {act}.",
        "{name} liked to {hobby} every day.",
        "Every morning, {name} would {hobby}.",
    ],
    "extra": [
        "[O] {At_place}, there were {scen1} and {scen2}.",
        "[O] The {place} was {place_adj}, and there were {scen1} everywhere.",
        "[O] {He} often saw {seen} {at_place}.",
        "[HO] {name} put on {his} {clothes} and went outside.",
        "[A] {He} often {moved} around, looking for {food}.",
        "[AS] Whenever {he} was {goodf}, {he} {sound} happily.",
        "[AS] Every morning, {he} woke up {sounding} and ready to play.",
        "[A] {He} {moved} {to_place} every day to {hobby}.",
        "[I] Outside, it was {weather}, so {he} stayed inside.",
        "[I] There were {scen1} and {scen2} all around the room.",
    ],
    "has_obj": [
        "{He} had {a_obj} that {he} loved very much.",
        "{His} favorite thing in the world was {a_obj}.",
        "{name} had {a_obj}, and {he} took it everywhere.",
        "One day, {his} {par} gave {him} {a_obj}.",
        "{name} had {a_obj}. | {He} liked to {play_it} all day.",
        "{name} had {a_obj}. | Every day, {he} would {care} it with care.",
    ],
}

THEME_MORALS: dict[str, list[str]] = {
    "friendship": [
        "{name} learned that good friends are there for each other.",
        "The moral of the story is: a good friend is a true treasure.",
        "{name} learned that everything is better with a friend by your side.",
    ],
    "responsibility": [
        "{name} learned to take good care of the things {he} loved.",
        "The moral of the story is: keep the things you love safe.",
    ],
    "sharing": [
        "{name} learned that sharing makes everyone happy.",
        "The moral of the story is: sharing is caring.",
        "{name} learned that things are more fun when you share them.",
    ],
    "courage": [
        "{name} learned that being brave means trying even when you are scared.",
        "The moral of the story is: do not let fear stop you.",
        "{name} learned that many scary things are not so scary when you look closely.",
    ],
    "honesty": [
        "{name} learned that telling the truth is always the right thing to do.",
        "The moral of the story is: always tell the truth, even when it is hard.",
        "{name} learned that a lie only makes things worse.",
    ],
    "kindness": [
        "{name} learned that it is important to be kind, even to the smallest ones.",
        "The moral of the story is: always help those in need.",
        "{name} learned that a little kindness can make a big difference.",
    ],
    "patience": [
        "{name} learned that good things take time.",
        "The moral of the story is: be patient, and keep trying.",
    ],
    "perseverance": [
        "{name} learned that if you keep trying, you can do hard things.",
        "The moral of the story is: never give up.",
    ],
    "listening": [
        "{name} learned to always listen to {his} {par}.",
        "The moral of the story is: grown-ups make rules to keep us safe.",
    ],
    "self-control": [
        "{name} learned that it is better to share than to keep everything for yourself.",
        "The moral of the story is: too much of a good thing is not good at all.",
    ],
    "teamwork": [
        "{name} learned that big jobs are easy when friends work together.",
        "The moral of the story is: together we can do more.",
    ],
}

PLOTS: dict[str, dict[str, list[str]]] = {
    "lost": {
        "themes": ["friendship", "responsibility"],
        "setup": [
            "One {weather} day, {name} took {the_obj} {to_place}. | {He} wanted to show it to {his} friend {fname}.",
            "{name} and {his} friend {fname} went {to_place} to {act}. | {name} brought {his} {obj} along.",
            "One morning, {name} and {his} friend {fname} were playing with {the_obj} {at_place}.",
        ],
        "problem": [
            "When it was time to go home, {name} could not find {the_obj}. | {He} felt very {sadf}.",
            "{name} put {the_obj} down to {act}. | When {he} came back, it was gone!",
            "After a while, {name} looked around. | {The_obj} was not there anymore!",
        ],
        "problem_d": [
            "When it was time to go home, {name} could not find {the_obj}. | \"Where is my {obj}?\" {he} cried.",
            "{name} put {the_obj} down to {act}. | When {he} came back, it was gone! | \"Oh no!\" said {name}.",
            "\"{fname}, have you seen my {obj}?\" {name} asked. | \"No, but I will help you look,\" said {fname}.",
        ],
        "middle": [
            "They looked {spot1} and {spot2}.",
            "{name} looked {spot1}. | Then {he} looked {spot2}, but it was not there.",
        ],
        "foreshadow": [
            "{His} {par} told {him} to keep {the_obj} safe, but {name} was too excited to listen. "
            "|| {name} remembered what {his} {par} had said.",
            "{name} had a funny feeling that something was going to happen that day. "
            "|| Now {name} knew why {he} had that funny feeling.",
        ],
        "conflict": [
            "{name} thought {fname} had taken {the_obj}. | The two friends began to argue.",
            "{name} said it was {fname}'s fault, and {fname} got {angryf}. | They did not talk for a while.",
        ],
        "conflict_d": [
            "\"You took it!\" {name} shouted at {fname}. | \"No, I didn't!\" {fname} said, and {fhe} stomped {fhis} "
            "foot.",
        ],
        "twist_happy": [
            "Just then, a friendly dog came running. | It had {the_obj} in its mouth!",
            "Then {name} turned around and saw {fname} giggling. | {fHe} had hidden {the_obj} as a joke!",
            "[O] Then a little bird flew down from a tree. | It dropped {the_obj} right at {name}'s feet!",
        ],
        "twist_sad": [
            "At last, {name} saw {the_obj} {spot3}. | But a big dog had found it first, and it was all chewed up.",
            "[O] At last, {fname} spotted {the_obj}, but it was stuck high up in a tree. | Nobody could reach it.",
        ],
        "after_twist_happy": [
            "{name} was so {goodf}. | {He} hugged {the_obj} and promised to keep it safe.",
            "{name} {smiled}, and the two friends played until the sun went down.",
        ],
        "after_twist_sad": ["{name} {sighed} and went home {sadf}. | {He} missed {his} {obj} very much."],
        "happy": [
            "At last, {fname} found {the_obj} {spot3}. | {name} was so {goodf} that {he} hugged {fname}.",
            "Finally, they found {the_obj} {spot3}. | {name} thanked {fname}, and they played until dinner time.",
        ],
        "happy_d": [
            "At last, {fname} found {the_obj} {spot3}. | \"Here it is!\" {fhe} shouted. | \"Thank you!\" said {name}.",
        ],
        "sad": [
            "They looked and looked, but they never found {the_obj}. | {name} went home feeling very {sadf}.",
            "Soon it got dark, and they had to go home without {the_obj}. | {name} cried that night.",
        ],
        "sad_d": ["They looked and looked, but {the_obj} was gone. | \"I miss my {obj},\" {name} said sadly."],
        "summary_happy": [
            "{name} loses {his} {obj} {at_place}, and {fname} helps {him} find it.",
            "When {name}'s {obj} goes missing {at_place}, {name} and {fname} search until it turns up.",
        ],
        "summary_sad": ["{name} loses {his} {obj} {at_place} and never gets it back."],
    },
    "sharing": {
        "themes": ["sharing", "sharing", "friendship"],
        "setup": [
            "One day, {name}'s friend {fname} came to play {at_place}. | {fname} saw {the_obj} and wanted to play too.",
            "{name} was playing with {the_obj} {at_place}. | {His} friend {fname} came over and asked to play too.",
        ],
        "problem": [
            "But {name} did not want to share. | {He} held {the_obj} tight and turned away.",
            "{name} said no. | {He} wanted {the_obj} all for {self}.",
        ],
        "problem_d": [
            "\"Can I play with your {obj}?\" asked {fname}. | \"No! It is mine!\" said {name}.",
            "\"Please, {name}, can I have a turn?\" {fname} asked. | \"No,\" said {name}. \"I want it all for me.\"",
        ],
        "foreshadow": [
            "{His} {par} always said that things are more fun when you share them. "
            "|| {name} thought about what {his} {par} always said.",
            "{fname} looked {sadf} and lonely, but {name} did not notice. || Then {name} saw how {sadf} {fname} "
            "looked.",
        ],
        "conflict": [
            "{fname} grabbed {the_obj}, and {name} pulled it back. | They pulled and pulled, and both got {angryf}.",
        ],
        "conflict_d": [
            "\"Give it to me!\" shouted {fname}. | \"No, it's mine!\" shouted {name}, and they both pulled on "
            "{the_obj}.",
        ],
        "twist_happy": [
            "Then {fname} showed {name} a new game they could play with {the_obj}. | It needed two players!",
            "Then {fname} took out {a_obj2} of {fhis} own. | {fHe} wanted to share it with {name}!",
        ],
        "twist_sad": [
            "Then {name} tripped and fell. | {The_obj} {spoiled}!",
            "[O] Then {name} pulled too hard. | {The_obj} flew out of {his} hands and landed in a big puddle.",
        ],
        "after_twist_happy": [
            "{name} and {fname} played together all afternoon. | They were both very {goodf}.",
            "{name} smiled and said sorry. | From then on, they always shared their toys.",
        ],
        "after_twist_sad": ["Now nobody could play with it. | {name} {sighed} and sat down."],
        "happy": [
            "Then {name} saw how {sadf} {fname} looked. | {He} gave {the_obj} to {fname}, and they took turns.",
            "{name} thought for a moment and decided to share. | They played with {the_obj} together all day.",
        ],
        "happy_d": [
            "{name} thought for a moment. | \"Okay, we can play together,\" {he} said. | They laughed all day.",
        ],
        "sad": [
            "They pulled so hard that {the_obj} {spoiled}. | Now nobody could play with it, and both friends cried.",
            "{fname} went home {sadf}. | {name} played alone, but it was not fun anymore.",
        ],
        "sad_d": ["\"Fine, I will go home,\" said {fname}. | {name} played alone, but it was not fun anymore."],
        "summary_happy": ["{name} does not want to share {his} {obj} with {fname}, but in the end they share it."],
        "summary_sad": ["{name} will not share {his} {obj} with {fname}, and in the end nobody has any fun."],
    },
    "courage": {
        "themes": ["courage", "friendship"],
        "setup": [
            "One {weather} evening, {name} and {his} friend {fname} were {acting} {at_place}. "
            "| Suddenly, they heard a strange noise coming from {spot1}.",
            "One day, {name} went {to_place} with {his} friend {fname}. | Soon they heard a rustling sound {spot1}.",
        ],
        "problem": [
            "{name} was very {scaredf}. | {He} wanted to run home to {his} {par}.",
            "{name}'s legs began to shake. | {He} did not want to go near the noise.",
        ],
        "problem_d": [
            "\"What was that?\" whispered {name}. | \"I don't know,\" said {fname}. \"Maybe it is a monster!\"",
        ],
        "foreshadow": [
            "{name}'s {par} had told {him} that many things look scarier than they are. "
            "|| {name} remembered what {his} {par} had said.",
            "Earlier that day, {name} had seen a little {critter} {at_place}. "
            "|| {name} thought about the little {critter} {he} had seen.",
        ],
        "conflict": [
            "{fname} wanted to run away, but {name} wanted to see what it was. | They could not agree.",
        ],
        "conflict_d": ["\"Let's run!\" said {fname}. | \"No, let's look!\" said {name}. They could not agree."],
        "twist_happy": [
            "Then {a_critter} came out from {spot1}. | The scary noise was just a little animal looking for its mom!",
        ],
        "twist_sad": [
            "Then a big goose jumped out from {spot1}! | It honked loudly, and {name} ran so fast that {he} fell "
            "and hurt {his} {body}.",
        ],
        "after_twist_happy": [
            "{name} and {fname} {smiled}. | They were not {scaredf} anymore.",
            "{name} gently petted the little {critter}. | {He} felt very brave and {goodf}.",
        ],
        "after_twist_sad": ["{name} went home crying. | {He} did not want to go back there anymore."],
        "happy": [
            "{name} took a deep breath and walked closer. | It was only {a_critter}, and it was more scared than "
            "{he} was!",
            "{name} held {fname}'s hand, and they looked {spot1} together. | There they found {a_critter}, shivering.",
        ],
        "happy_d": [
            "{name} took a deep breath. | \"I am brave,\" {he} said, and {he} looked {spot1}. | It was only "
            "{a_critter}!",
        ],
        "sad": [
            "{name} was too {scaredf} to look. | {He} ran all the way home and never found out what it was.",
            "They ran away as fast as they could. | {name} fell and hurt {his} {body}, and {he} cried all the way "
            "home.",
        ],
        "sad_d": ["\"I want to go home!\" cried {name}. | {He} ran away and never found out what made the noise."],
        "summary_happy": [
            "{name} hears a scary noise {at_place}, finds the courage to look, and finds {a_critter}.",
        ],
        "summary_sad": ["{name} hears a scary noise {at_place} and is too scared to find out what it is."],
    },
    "honesty": {
        "themes": ["honesty"],
        "humans_only": ["yes"],
        "setup": [
            "One {weather} afternoon, {name} was playing ball in the living room. "
            "| {His} {par} had said many times not to play ball inside.",
            "{name} was running around the kitchen, pretending to be {role}.",
        ],
        "problem": [
            "Suddenly, the ball hit {his} {par}'s {thing2}. | It fell to the floor and broke into many pieces.",
            "{name} bumped into the table, and {his} {par}'s {thing2} fell down. | It cracked in two!",
        ],
        "problem_d": [
            "Suddenly, {name} knocked over {his} {par}'s {thing2}. | It broke into many pieces. | \"Oh no!\" "
            "{name} gasped.",
        ],
        "foreshadow": [
            "The {thing2} stood on the edge of the table, right where {name} was playing. "
            "|| {name} wished {he} had played somewhere else.",
            "{His} {par} loved that {thing2} very much. || {name} knew how much {his} {par} loved it.",
        ],
        "conflict": [
            "{name} wanted to tell the truth, but {he} was afraid. | A part of {him} wanted to hide the pieces.",
            "{His} friend {fname} said they should tell {his} {par}, but {name} did not want to. | They argued in "
            "whispers.",
        ],
        "conflict_d": [
            "\"We have to tell your {par},\" said {his} friend {fname}. | \"No! {pShe} will be mad,\" said {name}.",
        ],
        "twist_happy": [
            "But {his} {par} had seen everything through the window. | {pShe} was waiting to see what {name} "
            "would do.",
        ],
        "twist_sad": ["Then {name} had an idea. | {He} told {his} {par} that the cat had done it."],
        "after_twist_happy": [
            "So {name} told {his} {par} the truth. | {His} {par} smiled and said {pshe} was proud of {him}.",
        ],
        "after_twist_sad": [
            "The poor cat got no treats that night. | {name} felt so bad that {he} could not sleep.",
        ],
        "happy": [
            "{name} took a deep breath and told {his} {par} what happened. | {His} {par} hugged {him} and said "
            "the truth was more important than any {thing2}.",
            "{name} went to {his} {par} and said sorry. | {pShe} was sad about the {thing2}, but proud of {name} "
            "for being honest.",
        ],
        "happy_d": [
            "{name} went to {his} {par}. | \"I broke the {thing2}. I am sorry,\" {he} said. | \"Thank you for "
            "telling me the truth,\" said {his} {par}.",
        ],
        "sad": [
            "{name} hid the pieces under the {furn} and said nothing. | When {his} {par} found them, {pshe} was "
            "very sad, and {name} felt bad for a long time.",
            "{name} said {he} did not know what happened. | {His} {par} knew it was not true, and {name} had to go "
            "to bed without dessert.",
        ],
        "sad_d": [
            "\"I didn't do it,\" said {name}. | But {his} {par} found a piece of the {thing2} in {his} shoe, and "
            "{name} was in big trouble.",
        ],
        "summary_happy": ["{name} breaks {his} {par}'s {thing2} and tells the truth, and {his} {par} is proud."],
        "summary_sad": ["{name} breaks {his} {par}'s {thing2}, hides what happened, and ends up feeling bad."],
    },
    "kindness": {
        "themes": ["kindness"],
        "setup": [
            "One {weather} day, {name} was {acting} {at_place}. | Suddenly, {he} heard a small, sad sound.",
            "{name} and {his} friend {fname} were walking {at_place} when they saw {a_critter} {spot1}.",
        ],
        "problem": [
            "It was {a_critter}, and it was stuck {spot1}. | It looked cold and {scaredf}.",
            "The little {critter} had a hurt leg. | It could not walk very well.",
        ],
        "problem_d": [
            "\"Look!\" said {name}. \"That little {critter} needs help!\" | The poor {critter} was shaking with fear.",
        ],
        "foreshadow": [
            "That morning, {name} had put {food} in {his} bag for later. || Then {name} remembered the snack in "
            "{his} bag.",
            "The sky was getting dark, and a cold wind was starting to blow. || The wind was getting colder, so "
            "{name} knew {he} had to hurry.",
        ],
        "conflict": [
            "{His} friend {fname} said they should leave it alone, but {name} did not agree. | They argued about "
            "what to do.",
        ],
        "conflict_d": [
            "\"Leave it,\" said {his} friend {fname}. \"It is not ours.\" | \"But it needs help!\" said {name}.",
        ],
        "twist_happy": [
            "[O] Then a big {critter} came running out of the bushes. | It was the little {critter}'s mom, and she "
            "had been looking everywhere!",
            "[I] Then a big {critter} came running from the next room. | It was the little {critter}'s mom, and "
            "she had been looking everywhere!",
        ],
        "twist_sad": ["But when {name} reached out, the little {critter} got scared. | It ran away and hid."],
        "after_twist_happy": [
            "The mother {critter} nuzzled her baby and looked at {name}. | {name} felt warm and {goodf} inside.",
        ],
        "after_twist_sad": ["{name} looked for it until it got dark. | {He} went home feeling very {sadf}."],
        "happy": [
            "{name} gently picked up the {critter} and wrapped it in a soft blanket. | Soon it felt much better.",
            "{name} and {fname} helped the {critter} get out. | The little {critter} was free, and it looked at "
            "them as if to say thank you.",
        ],
        "happy_d": [
            "{name} gently picked up the {critter}. | \"Don't worry, little {critter}. I will help you,\" {he} "
            "whispered. | Soon the {critter} felt much better.",
        ],
        "sad": [
            "{name} tried to help, but {he} could not reach it. | When {he} came back with {his} {par}, the "
            "little {critter} was gone.",
            "{name} took the {critter} home, but the next morning it was gone. | {name} felt {sadf} for days.",
        ],
        "sad_d": ["{name} tried to help, but the {critter} was gone. | \"Where did it go?\" {name} asked sadly."],
        "summary_happy": ["{name} finds {a_critter} in trouble {at_place} and helps it."],
        "summary_sad": ["{name} tries to help {a_critter} {at_place}, but cannot save it."],
    },
    "trying": {
        "themes": ["perseverance", "patience"],
        "setup": [
            "[O] {name} got a new kite with a long tail. | {He} took it {to_place} to fly it.",
            "[I] {name} wanted to build the tallest tower in the whole world. | {He} got out all of {his} blocks.",
        ],
        "problem": [
            "[O] {name} ran and ran, but the kite would not fly. | It just fell down again and again.",
            "[I] {name} put one block on top of another. | But every time the tower got tall, it fell down!",
        ],
        "problem_d": [
            "[O] \"Fly, kite, fly!\" shouted {name}. | But the kite just fell down on the ground.",
            "[I] The tower got tall, and then it fell with a crash. | \"Oh no, not again!\" cried {name}.",
        ],
        "foreshadow": [
            "{His} {par} always said that good things take time. || {name} remembered that good things take time.",
            "[O] The trees were very still, and not a leaf was moving. || There was no wind at all.",
        ],
        "conflict": [
            "{His} friend {fname} laughed and said {name} would never do it. | {name} got {angryf} and stomped away.",
        ],
        "conflict_d": ["\"You will never do it,\" said {his} friend {fname}. | \"Yes, I will!\" said {name}."],
        "twist_happy": [
            "[O] Then a big gust of wind came. | The kite flew up, up, up into the sky!",
            "[I] Then {name} had an idea. | {He} put the big blocks at the bottom and the small blocks on top.",
        ],
        "twist_sad": [
            "[O] Then a big gust of wind came. | It pulled the kite away, and it got stuck high up in a tree.",
            "[I] Then a puppy ran into the room. | It knocked the whole tower down with its tail.",
        ],
        "after_twist_happy": [
            "{name} jumped and {smiled}. | {He} was so {proudf} of {self}.",
            "{name} cheered, and {his} friend {fname} cheered too.",
        ],
        "after_twist_sad": ["{name} sat down and cried. | {He} did not want to try anymore."],
        "happy": [
            "[O] {name} did not give up. | {He} tried again and again, and at last the kite flew high in the sky.",
            "[I] {name} did not give up. | {He} tried again, slowly and carefully, and this time the tower stood "
            "tall.",
        ],
        "happy_d": [
            "{name} did not give up. | {He} tried one more time, and it worked! | \"I did it!\" {name} cheered.",
        ],
        "sad": [
            "[O] {name} tried and tried, but the kite never flew. | At last, {he} went home {sadf}.",
            "[I] {name} got so {angryf} that {he} kicked the blocks across the room. | {He} never finished the "
            "tower.",
        ],
        "sad_d": ["\"I give up,\" said {name}. | {He} went away {sadf} and never tried again."],
        "summary_happy": [
            "[O] {name} tries to fly a new kite {at_place}, and after many tries it flies high.",
            "[I] {name} keeps trying until {his} tower of blocks stands tall.",
        ],
        "summary_sad": [
            "[O] {name} tries to fly a new kite {at_place}, but it never flies.",
            "[I] {name} tries to build a tall tower of blocks but gives up.",
        ],
    },
    "listening": {
        "themes": ["listening", "listening", "responsibility"],
        "setup": [
            "[O] One {weather} day, {name} went {to_place} with {his} {par}. | {His} {par} told {him} to stay "
            "close.",
            "[I] {His} {par} was busy in the kitchen. | {pShe} told {name} not to climb on the tall shelf.",
        ],
        "problem": [
            "[O] But then {name} saw a pretty butterfly. | {He} followed it, and soon {he} could not see {his} "
            "{par} anymore.",
            "[I] But {name} wanted {the_obj} on the top shelf. | {He} climbed up on a chair to reach it.",
        ],
        "problem_d": [
            "[O] \"Look, a butterfly!\" said {name}, and {he} ran after it. | Soon {he} could not see {his} {par}.",
            "[I] \"I can reach it by myself,\" said {name}. | {He} climbed up on a chair to get {the_obj} from the "
            "top shelf.",
        ],
        "foreshadow": [
            "[O] {name} was so excited that {he} was not really listening. || {name} wished {he} had listened.",
            "[I] The chair was old and a little wobbly. || The wobbly chair began to shake.",
        ],
        "conflict": [
            "[O] {name} knew {he} should go back, but the butterfly was so pretty. | {He} could not decide.",
            "[I] {name} knew it was not allowed, but {he} really wanted {the_obj}. | {He} did not stop.",
        ],
        "conflict_d": [
            "[O] \"I should go back,\" {name} thought. | \"But the butterfly is so pretty!\"",
            "[I] \"Stop, {name}!\" called {his} friend {fname} from the door. | But {name} did not listen.",
        ],
        "twist_happy": [
            "[O] Then {name} heard someone calling {his} name. | It was {his} {par}, running toward {him}!",
            "[I] Just as the chair began to tip, strong arms caught {name}. | {His} {par} had come back just in "
            "time!",
        ],
        "twist_sad": [
            "[O] Then it started to rain. | {name} slipped in the mud and hurt {his} {body}.",
            "[I] Then the chair tipped over. | {name} fell down and hurt {his} {body}.",
        ],
        "after_twist_happy": ["{name} said sorry to {his} {par}. | After that, {he} always listened."],
        "after_twist_sad": ["{name} cried for {his} {par}. | {His} {body} hurt for many days."],
        "happy": [
            "[O] {name} sat down and waited, just like {his} {par} had taught {him}. | Soon {his} {par} found "
            "{him} and gave {him} a big hug.",
            "[I] {name} stopped and climbed down. | {He} asked {his} {par} for help, and {pshe} got {the_obj} down.",
        ],
        "happy_d": [
            "[O] {name} sat down and waited. | \"There you are!\" said {his} {par}, and {pshe} hugged {him} tight.",
            "[I] {name} climbed down. | \"Can you help me?\" {he} asked, and {his} {par} got {the_obj} down.",
        ],
        "sad": [
            "[O] {name} walked and walked, but {he} could not find {his} way back. | When {his} {par} found {him}, "
            "{he} was cold, wet and very {sadf}.",
            "[I] The chair wobbled, and {name} fell to the floor. | {He} hurt {his} {body}, and {the_obj} "
            "{spoiled} too.",
        ],
        "sad_d": ["\"Help!\" cried {name}, but nobody came for a long time. | {He} was cold and very {sadf}."],
        "summary_happy": [
            "[O] {name} wanders away from {his} {par} {at_place}, but {pshe} finds {him} again.",
            "[I] {name} almost climbs a tall shelf but asks {his} {par} for help instead.",
        ],
        "summary_sad": [
            "[O] {name} does not listen to {his} {par}, wanders off {at_place}, and gets lost.",
            "[I] {name} does not listen to {his} {par}, climbs a wobbly chair, and gets hurt.",
        ],
    },
    "new_friend": {
        "themes": ["friendship", "kindness"],
        "setup": [
            "One day, {name} saw {a_fkind} sitting all alone {at_place}. | {fHis} name was {fname}.",
            "{name} was {acting} {at_place} when {he} saw {a_fkind} {he} did not know. | It was {fname}, and "
            "{fhe} was new.",
        ],
        "problem": [
            "{name} wanted to say hello, but {he} felt shy. | {He} just stood there.",
            "{fname} did not have anyone to play with. | {fHe} looked {sadf}.",
        ],
        "problem_d": [
            "{name} walked over slowly. | \"Hi, I'm {name},\" {he} said. | \"I'm {fname},\" said the {fkind} "
            "quietly.",
        ],
        "foreshadow": [
            "{name} had always wished for a friend who liked to {act}. || It turned out that {fname} loved to {act} "
            "too!",
            "{name} did not know it yet, but this day would be very special. || It really was a special day.",
        ],
        "conflict": [
            "Some other kids said {fname} was strange and told {name} not to play with {fhim}. | {name} did not "
            "know what to do.",
        ],
        "conflict_d": [
            "\"Don't play with {fhim},\" said a bossy {kind}. \"{fHe} is new!\" | {name} did not know what to do.",
        ],
        "twist_happy": [
            "Then {fname} showed {name} a trick. | {fHe} could {act} better than anyone {name} had ever seen!",
            "Then they found out something funny. | {fname} lived right next door to {name}!",
        ],
        "twist_sad": ["Then {fname}'s family came to get {fhim}. | They were moving to a town far away."],
        "after_twist_happy": [
            "{name} and {fname} played every day after that. | They became best friends.",
        ],
        "after_twist_sad": ["{name} waved goodbye as {fname} left. | {He} felt {sadf} for a long time."],
        "happy": [
            "{name} sat down next to {fname} and {smiled}. | Soon they were {acting} together and laughing.",
            "{name} asked {fname} to {act} with {him}. | From that day on, they were best friends.",
        ],
        "happy_d": ["\"Do you want to {act} with me?\" asked {name}. | {fname} smiled and said, \"Yes, please!\""],
        "sad": [
            "{name} was too shy to say hello. | The next day, {fname} was gone, and {name} never got to be {fhis} "
            "friend.",
            "{name} walked away and played alone. | Later, {he} saw {fname} crying, and {he} felt very sorry.",
        ],
        "sad_d": ["\"Go away,\" said {name}, and {he} played alone. | Later, {he} felt very sorry."],
        "summary_happy": ["{name} meets {a_fkind} named {fname} {at_place}, and they become friends."],
        "summary_sad": ["{name} meets a lonely {fkind} named {fname} {at_place} but never becomes {fhis} friend."],
    },
    "greedy": {
        "themes": ["self-control", "sharing"],
        "setup": [
            "[I] One day, {name}'s {par} made {snacks}. | They were for {name} and {his} friend {fname} to share.",
            "[O] {name}'s {par} packed {snacks} for a picnic {at_place}. | They were for {name} and {his} "
            "friend {fname} to share.",
        ],
        "problem": [
            "But {name} wanted them all for {self}. | When nobody was looking, {he} ate one, then another.",
            "{name} {ate} one {snack}, and it was so good. | So {he} {ate} another one, and another one.",
        ],
        "problem_d": ["\"Just one more,\" {name} whispered, and {he} ate another {snack}."],
        "foreshadow": [
            "{His} {par} said too many treats would give {him} a tummy ache. || {name} remembered what {his} {par} "
            "had said.",
            "{fname} was coming later to share them. || Then {fname} arrived.",
        ],
        "conflict": ["{fname} saw the empty plate. | {fHe} was {angryf} that {name} had not saved any for {fhim}."],
        "conflict_d": [
            "\"You ate them all!\" cried {fname}. | \"I was hungry,\" said {name}, but {he} knew it was wrong.",
        ],
        "twist_happy": ["Then {name} looked at the plate. | There was one {snack} left, the biggest one of all."],
        "twist_sad": ["Then {name}'s tummy started to hurt. | {He} had eaten too many {snacks_word}!"],
        "after_twist_happy": ["{name} gave it to {fname}. | {fname} smiled, and they shared some {drink} too."],
        "after_twist_sad": ["{He} had to lie down all afternoon. | {fname} went home {sadf}."],
        "happy": [
            "{name} stopped and thought about {fname}. | {He} saved the rest, and they shared them together.",
            "{name} gave the rest of the {snacks_word} to {fname}. | They ate them together, and it was the best "
            "snack ever.",
        ],
        "happy_d": [
            "\"Here, these are for you,\" said {name}. | {fname} smiled and said, \"Thank you!\"",
        ],
        "sad": [
            "{name} ate every single {snack}. | Soon {his} tummy hurt, and {fname} got nothing at all.",
            "By the time {fname} came, all the {snacks_word} were gone. | {fname} went home {sadf}.",
        ],
        "sad_d": ["{name} ate them all. | \"My tummy hurts,\" {he} cried, and {fname} got none."],
        "summary_happy": ["{name} almost eats all the {snacks_word} but saves some to share with {fname}."],
        "summary_sad": ["{name} eats all the {snacks_word} alone and ends up with a tummy ache."],
    },
    "teamwork": {
        "themes": ["teamwork", "friendship"],
        "setup": [
            "[O] {name} and {his} friend {fname} wanted to build a big fort {at_place}. | They needed lots of sticks "
            "and leaves.",
            "[I] {name} and {his} friend {fname} wanted to build a big fort in the living room. | They needed lots "
            "of pillows "
            "and blankets.",
        ],
        "problem": [
            "{name} wanted to build it one way, and {fname} wanted to build it another way. | So each of them "
            "started to build alone.",
            "The fort was too big to build alone. | Every time {name} put up a wall, another one fell down.",
        ],
        "problem_d": ["\"Let's put the door here,\" said {name}. | \"No, over here!\" said {fname}."],
        "foreshadow": [
            "{His} {par} said that big jobs are easier when friends work together. || {name} thought about what "
            "{his} {par} had said.",
            "[O] The wind was getting stronger. || Then a big gust of wind blew through the {place}.",
        ],
        "conflict": ["Soon they were arguing about everything. | Each one said the other was bossy."],
        "conflict_d": ["\"That's mine!\" shouted {fname}. | \"No, it's mine!\" shouted {name}."],
        "twist_happy": [
            "Then {name} saw that {his} part and {fname}'s part could fit together. | It made one big fort!",
        ],
        "twist_sad": [
            "[O] Then a big gust of wind came. | It blew the whole fort down!",
            "[I] Then the dog ran in and jumped on the fort. | It fell down in a big heap!",
        ],
        "after_twist_happy": ["They sat in their fort and {ate} {food}. | It was the best day ever."],
        "after_twist_sad": ["Now there was nothing left. | {name} and {fname} sat in the mess and cried."],
        "happy": [
            "[O] They decided to work together. | {name} held the sticks, {fname} piled up the leaves, and soon the "
            "fort was done.",
            "[I] They decided to work together. | {name} held the blankets, {fname} put the pillows around them, "
            "and soon the fort was done.",
        ],
        "happy_d": [
            "\"Let's build it together,\" said {name}. | They worked side by side. | \"We did it!\" they cheered.",
        ],
        "sad": [
            "They never finished the fort. | Each of them went home {sadf}.",
            "Each of them built a small fort alone. | But both forts were wobbly, and soon they fell down.",
        ],
        "sad_d": ["\"I don't want to play with you!\" said {name}. | They never finished the fort."],
        "summary_happy": ["{name} and {fname} argue about how to build a fort, then build it together."],
        "summary_sad": ["{name} and {fname} try to build a fort but cannot work together."],
    },
}
